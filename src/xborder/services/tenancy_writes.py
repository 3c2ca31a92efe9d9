"""Writes on a party's behalf: orders (single with an idempotency key, and bulk JSON lines),
payments, and the operator's and warehouses' lifecycle actions (plan, pack, consolidate).

The caller's role decides what it may write: a seller captures its own orders (``seller_id``),
a platform the orders placed on it (``platform_id``, filled in when absent), a payment provider
its own payments, a warehouse packs the orders planned at its warehouses; planning and bagging
run over the whole network and are the operator's. An order is stored once whatever happens:
capture is idempotent by (channel, external id), and a single order posted with an
``Idempotency-Key`` stores its response in the same transaction, to be replayed to a repeat.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from xborder.domain.errors import Conflict, DomainError, InvalidValue
from xborder.domain.order_rules import ERROR_SCHEMA, OrderBatch
from xborder.formats.order_files import parse_jsonl
from xborder.services.access import ApiRole, Principal
from xborder.services.capture import PrecheckedBatch, capture_prechecked, precheck
from xborder.services.idempotency import (
    FindIdempotent,
    SaveIdempotent,
    find_idempotent,
    find_idempotent_many,
    reused_key,
    save_idempotent,
    save_idempotent_many,
)
from xborder.services.tenancy import require_role
from xborder.store.uow import UnitOfWork

WRITERS = (ApiRole.OPERATOR, ApiRole.SELLER, ApiRole.PLATFORM)


# --- orders -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LineResult:
    """One line of an upload: ``created`` or ``existing`` with the order id, or ``rejected``
    with the first problem (field, reason, value)."""

    line: int
    status: str
    order_id: int | None = None
    field: str | None = None
    reason: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class CaptureLines:
    """Orders as JSON lines (``docs/orders-import.md``); ``first_line`` numbers the first."""

    principal: Principal
    lines: Sequence[str]
    first_line: int = 1


def _tenancy_errors(principal: Principal, orders: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Rows the caller may not write (another seller's or platform's order) and orders placed
    after the clock's now (nothing stored may be dated after it)."""
    party = pl.lit(principal.party_id)
    checks: list[tuple[str, pl.Expr, str]] = [
        ("placed_at", pl.col("placed_at").str.replace(r"[zZ]$", "+00:00")
         .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC",
                          strict=False) > pl.lit(now), "is after the clock's now"),
    ]  # fmt: skip
    if principal.role is ApiRole.SELLER:
        checks.append(("seller_id", pl.col("seller_id") != party, "not your party"))
    if principal.role is ApiRole.PLATFORM:
        checks.append(("platform_id", pl.col("platform_id") != party, "not your party"))
    frames = [
        orders.filter(bad.fill_null(False)).select(
            "rec", "line", pl.lit(field).alias("field"), pl.lit(reason).alias("reason"),
            pl.col(field).alias("value"),
        )
        for field, bad, reason in checks
    ]  # fmt: skip
    return pl.concat(frames).cast(ERROR_SCHEMA).unique("rec", keep="first", maintain_order=True)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Lines parsed, checked for tenancy and validated, outside the write transaction: what
    ``_store`` writes."""

    prechecked: PrecheckedBatch
    errors: pl.DataFrame  # parse and tenancy errors, one or more per rejected record


def _prepare(uow: UnitOfWork, command: CaptureLines, now: datetime) -> _Prepared:
    """Parse, check the caller's rights and validate outside any transaction: on SQLite a
    transaction holds the write lock, so the less it does, the more the workers overlap."""
    require_role(command.principal, *WRITERS)
    parsed = parse_jsonl(command.lines, command.first_line)
    orders = _placed_when_stored(uow, parsed.batch.orders)
    fill = [pl.col("placed_at").fill_null(now.isoformat())]
    if command.principal.role is ApiRole.PLATFORM:
        fill.append(pl.col("platform_id").fill_null(command.principal.party_id))
    orders = orders.with_columns(fill)
    refused = _tenancy_errors(command.principal, orders, now)
    bad = pl.concat([parsed.errors.select("rec"), refused.select("rec")]).unique()
    batch = OrderBatch(
        orders.join(bad, on="rec", how="anti"),
        parsed.batch.lines.join(bad, on="rec", how="anti"),
    )
    return _Prepared(precheck(uow, batch), pl.concat([parsed.errors, refused]))


def _placed_when_stored(uow: UnitOfWork, orders: pl.DataFrame) -> pl.DataFrame:
    """An order sent without ``placed_at`` is stamped with the capture time; when its key is
    stored already it takes the stored order's time instead. The stamp is the platform's, not
    the caller's content, so a repeat of the same order (a re-uploaded file, a retry under a
    new ``Idempotency-Key``) is ``existing``, not a conflict over the time it arrived."""
    key = [pl.col("channel").str.strip_chars(), pl.col("external_id").str.strip_chars()]
    missing = orders.filter(pl.col("placed_at").is_null()).select(key).drop_nulls()
    if missing.is_empty():
        return orders
    with uow:
        stored = uow.orders.placed_at_for(list(missing.iter_rows()))
    if not stored:
        return orders
    known = pl.DataFrame(
        [(c, e, at.isoformat()) for (c, e), at in stored.items()],
        schema={"_channel": pl.String, "_external_id": pl.String, "_stored_at": pl.String},
        orient="row",
    )
    return (
        orders.with_columns(key[0].alias("_channel"), key[1].alias("_external_id"))
        .join(known, on=["_channel", "_external_id"], how="left", maintain_order="left")
        .with_columns(pl.col("placed_at").fill_null(pl.col("_stored_at")))
        .drop("_channel", "_external_id", "_stored_at")
    )


def _store(uow: UnitOfWork, prepared: _Prepared) -> list[LineResult]:
    report = capture_prechecked(uow, prepared.prechecked)
    errors = pl.concat([prepared.errors, report.errors]).sort("rec", "line")
    out = {
        int(r["rec"]): LineResult(int(r["rec"]), str(r["status"]), int(r["order_id"]))
        for r in report.results.iter_rows(named=True)
    }
    for e in errors.unique("rec", keep="first", maintain_order=True).iter_rows(named=True):
        out[int(e["rec"])] = LineResult(
            int(e["rec"]), "rejected", None, e["field"], e["reason"], e["value"]
        )
    return [out[k] for k in sorted(out)]


def capture_lines(uow: UnitOfWork, command: CaptureLines) -> list[LineResult]:
    """Validate and store a chunk of JSON-lines orders in one transaction; one result a line
    (blank lines have none)."""
    prepared = _prepare(uow, command, uow.clock.now())
    with uow:
        results = _store(uow, prepared)
        uow.commit()
    return results


@dataclass(frozen=True, slots=True)
class CaptureOrder:
    """One order (a JSON object of the JSON-lines format) under the caller's
    ``Idempotency-Key``; ``request_hash`` fingerprints the request."""

    principal: Principal
    record: dict[str, Any]
    idempotency_key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response to give: ``status_code`` and ``body`` (JSON text); ``replayed`` when it was
    stored for an earlier request with the same key."""

    status_code: int
    body: str
    replayed: bool


def _answer(record: dict[str, Any], result: LineResult | None) -> tuple[int, str]:
    """The (status code, JSON body) for a captured order; the error for a rejected one."""
    if result is None:
        raise InvalidValue("body", "an order is a JSON object")
    if result.status == "rejected":
        reason = result.reason or "invalid"
        if "different content" in reason:
            raise Conflict(f"{result.value}: {reason}")
        raise InvalidValue(result.field or "body", reason, result.value)
    body = json.dumps({"order_id": result.order_id, "status": result.status,
                       "channel": record.get("channel"),
                       "external_id": record.get("external_id")})  # fmt: skip
    return (201 if result.status == "created" else 200), body


def capture_order(uow: UnitOfWork, command: CaptureOrder) -> StoredResponse:
    """Capture one order, or replay the response stored for the same key and request.

    The same key with another request is a ``Conflict``; a rejected order raises
    ``InvalidValue`` (or ``Conflict`` for a stored order with other content) and stores nothing,
    so a corrected retry under the same key is accepted. Order, idempotency record and response
    commit together."""
    key_id = command.principal.key_id
    with uow:
        stored = find_idempotent(
            uow, FindIdempotent(key_id, command.idempotency_key, command.request_hash)
        )
        if stored is not None:
            return StoredResponse(stored.status_code, stored.response_json, True)
        prepared = _prepare(
            uow, CaptureLines(command.principal, [json.dumps(command.record)]), uow.clock.now()
        )
        result = _store(uow, prepared)
        code, body = _answer(command.record, result[0] if result else None)
        saved = save_idempotent(
            uow, SaveIdempotent(key_id, command.idempotency_key, command.request_hash, code, body)
        )
        uow.commit()
    # another worker may have stored the same request first: its response is the answer
    return StoredResponse(saved.status_code, saved.response_json, saved.response_json != body)


@dataclass(frozen=True, slots=True)
class CaptureOrders:
    """Single orders that arrived at about the same time, to capture together (group commit)."""

    orders: Sequence[CaptureOrder]


class _Raced(Exception):
    """Another worker stored a different request under one of the batch's keys meanwhile."""


def capture_orders(uow: UnitOfWork, command: CaptureOrders) -> list[StoredResponse | Exception]:
    """Each order answered as ``capture_order`` would answer it alone (a ``StoredResponse``, or
    the ``DomainError`` it would raise), all in one transaction: one validation pass per caller,
    one lookup and one insert of the idempotency records. An order's fate does not depend on
    the others (a rejected one stores nothing of its own); repeats of one ``Idempotency-Key``
    in the batch are answered in turn, as if sequential. Should another worker store a
    different request under one of the keys meanwhile (PostgreSQL), or the batch fail for any
    other reason, it is rolled back and each order is captured alone, in its own transaction."""
    items = list(command.orders)
    now = uow.clock.now()
    prepared: dict[Principal, tuple[list[int], _Prepared | DomainError]] = {}
    for principal in dict.fromkeys(item.principal for item in items):
        idxs = [i for i, item in enumerate(items) if item.principal == principal]
        lines = [json.dumps(items[i].record) for i in idxs]
        try:
            prepared[principal] = (idxs, _prepare(uow, CaptureLines(principal, lines), now))
        except DomainError as exc:  # e.g. a role that writes no orders
            prepared[principal] = (idxs, exc)
    rounds: list[list[int]] = []  # each round holds an Idempotency-Key at most once
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(items):
        key = (item.principal.key_id, item.idempotency_key)
        turn = seen[key] = seen.get(key, -1) + 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(i)
    out: list[StoredResponse | DomainError | None] = [None] * len(items)
    try:
        with uow:
            for chosen in rounds:
                _capture_round(uow, items, set(chosen), prepared, out)
            uow.commit()
    except Exception:  # _Raced, or a fault: one order must not fail its neighbours
        return [_alone(uow, item) for item in items]
    answers: list[StoredResponse | Exception] = [
        o if o is not None else InvalidValue("body", "not captured") for o in out
    ]
    return answers


def _alone(uow: UnitOfWork, item: CaptureOrder) -> StoredResponse | Exception:
    try:
        return capture_order(uow, item)
    except Exception as exc:  # the order's own answer (a fault is a 500 for it alone)
        return exc


def _capture_round(
    uow: UnitOfWork,
    items: list[CaptureOrder],
    turn: set[int],
    prepared: dict[Principal, tuple[list[int], _Prepared | DomainError]],
    out: list[StoredResponse | DomainError | None],
) -> None:
    fresh: set[int] = set()
    for key_id in dict.fromkeys(items[i].principal.key_id for i in sorted(turn)):
        mine = [i for i in sorted(turn) if items[i].principal.key_id == key_id]
        found = find_idempotent_many(uow, key_id, [items[i].idempotency_key for i in mine])
        for i in mine:
            record = found.get(items[i].idempotency_key)
            if record is None:
                fresh.add(i)
            elif record.request_hash != items[i].request_hash:
                out[i] = reused_key(items[i].idempotency_key)
            else:
                out[i] = StoredResponse(record.status_code, record.response_json, True)
    answers: dict[int, tuple[int, str]] = {}
    for idxs, ready in prepared.values():
        recs = {pos: i for pos, i in enumerate(idxs, start=1) if i in fresh}  # rec = line no.
        if not recs:
            continue
        if isinstance(ready, DomainError):
            for i in recs.values():
                out[i] = ready
            continue
        results = {r.line: r for r in _store(uow, _only(ready, list(recs)))}
        for pos, i in recs.items():
            try:
                answers[i] = _answer(items[i].record, results.get(pos))
            except DomainError as exc:
                out[i] = exc
    saves = [SaveIdempotent(items[i].principal.key_id, items[i].idempotency_key,
                            items[i].request_hash, code, body)
             for i, (code, body) in answers.items()]  # fmt: skip
    stored = save_idempotent_many(uow, saves)
    for i, (_, body) in answers.items():
        record = stored[(items[i].principal.key_id, items[i].idempotency_key)]
        if record.request_hash != items[i].request_hash:
            raise _Raced
        replayed = record.response_json != body
        out[i] = StoredResponse(record.status_code, record.response_json, replayed)


def _only(ready: _Prepared, recs: list[int]) -> _Prepared:
    """The prepared lines of these records only (``rec`` is the line number, from 1)."""
    everyone = ready.prechecked.batch.orders.height + ready.errors.get_column("rec").n_unique()
    if len(recs) == everyone:
        return ready
    return _Prepared(ready.prechecked.only(recs), ready.errors.filter(pl.col("rec").is_in(recs)))
