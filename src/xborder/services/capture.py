"""Capture orders: validate through the columnar kernel, then write new orders in one transaction.

Idempotent by (channel, external_id): a repeat with identical content returns the first capture's
id (status ``existing``); a repeat with different content is rejected as a conflict. The bulk path
and the single-order path are the same function; a single order is a batch of one. The rows are
written by ``OrderRepository.insert`` (staged Arrow ingest through ADBC on SQLite for large
batches, COPY on PostgreSQL) inside this unit of work's transaction: all of a batch or none.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from xborder.domain.errors import Conflict, InvalidValue
from xborder.domain.order_rules import (
    ERROR_SCHEMA,
    CheckedBatch,
    OrderBatch,
    check_orders,
    content_fingerprint,
)
from xborder.domain.orders import Order, OrderStatus
from xborder.settlement.crashpoints import crash_point
from xborder.store.orders_repo import LINE_COLUMNS, ORDER_COLUMNS, DuplicateOrderKey
from xborder.store.uow import UnitOfWork

CONTENT_COLUMNS = tuple(c for c in ORDER_COLUMNS if c not in {"id", "status"})
LINE_CONTENT_COLUMNS = tuple(c for c in LINE_COLUMNS if c != "order_id")
RESULT_SCHEMA = pl.Schema(
    {"rec": pl.Int64, "line": pl.Int64, "order_id": pl.Int64, "status": pl.String}
)
# How often a batch re-reads the stored keys after a concurrent writer stored some of them first.
# Each retry follows another writer's commit of at least one of these keys, so this is a bound on
# interleavings, not a wait; exhausting it reports a conflict rather than failing the import.
MAX_WRITE_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class CaptureReport:
    """Per record: ``results`` (order id, created or existing) or ``errors`` (field, reason)."""

    results: pl.DataFrame
    errors: pl.DataFrame

    @property
    def created(self) -> int:
        return self.results.filter(pl.col("status") == "created").height

    @property
    def existing(self) -> int:
        return self.results.filter(pl.col("status") == "existing").height

    @property
    def rejected(self) -> int:
        return self.errors.get_column("rec").n_unique()

    @property
    def created_ids(self) -> list[int]:
        return self.results.filter(pl.col("status") == "created").get_column("order_id").to_list()


@dataclass(frozen=True, slots=True)
class PrecheckedBatch:
    """A batch validated before its write transaction, with the seller set it was checked
    against (``precheck``)."""

    batch: OrderBatch
    sellers: frozenset[str] | None
    checked: CheckedBatch

    def only(self, recs: list[int]) -> PrecheckedBatch:
        """The same batch restricted to these records (their checks do not depend on others)."""
        keep = pl.col("rec").is_in(recs)
        c = self.checked
        return PrecheckedBatch(
            OrderBatch(self.batch.orders.filter(keep), self.batch.lines.filter(keep)),
            self.sellers,
            CheckedBatch(c.orders.filter(keep), c.lines.filter(keep), c.errors.filter(keep)),
        )


def precheck(uow: UnitOfWork, batch: OrderBatch) -> PrecheckedBatch:
    """Validate a batch outside any write transaction (on SQLite the transaction holds the one
    write lock, so the validation pass, a fixed ~15 ms per batch, would serialise the workers).
    The seller set is read as a snapshot; ``capture_prechecked`` re-reads it inside its
    transaction and validates again only if it changed meanwhile."""
    with uow:
        sellers = uow.world.sellers_snapshot() or None
    return PrecheckedBatch(batch, sellers, check_orders(batch, sellers))


def capture_batch(uow: UnitOfWork, batch: OrderBatch) -> CaptureReport:
    """Validate and store a batch (the command: two frames, orders and lines) in one transaction.

    Idempotent by (channel, external id): a stored repeat with the same content is reported
    ``existing``; with other content, a conflict. Commits itself (or joins the caller's unit of
    work when called inside one)."""
    with uow:
        report = _capture(uow, check_orders(batch, uow.world.sellers() or None))
        uow.commit()
    return report


def capture_prechecked(uow: UnitOfWork, command: PrecheckedBatch) -> CaptureReport:
    """``capture_batch`` for a batch validated by ``precheck``: the transaction only checks
    that the seller set is unchanged (else it validates again) and writes."""
    with uow:
        sellers = uow.world.sellers() or None
        checked = command.checked
        if sellers != command.sellers:  # a seller added or removed since the precheck
            checked = check_orders(command.batch, sellers)
        report = _capture(uow, checked)
        uow.commit()
    return report


def _capture(uow: UnitOfWork, checked: CheckedBatch) -> CaptureReport:
    orders = checked.orders
    is_first = orders.select(pl.struct("channel", "external_id").is_first_distinct()).to_series()
    if is_first.all():  # the common case: no key repeated inside the batch, one hash pass
        first, repeats = orders, orders.clear()
    else:
        first, repeats = orders.filter(is_first), orders.filter(~is_first)

    created, existing, conflicts = _write(uow, first, checked)
    results = pl.concat([created, existing])
    repeat_results, repeat_conflicts = _resolve_repeats(repeats, first, checked, results)
    return CaptureReport(
        pl.concat([results, repeat_results]).sort("rec"),
        pl.concat([checked.errors, conflicts, repeat_conflicts]).sort("rec", "line"),
    )


def _fingerprints(orders: pl.DataFrame, checked: CheckedBatch) -> pl.DataFrame:
    """Content fingerprints of these batch orders (only computed where a repeat needs one)."""
    lines = checked.lines.join(orders.select("rec"), on="rec", how="semi")
    return content_fingerprint(orders.select("rec", *CONTENT_COLUMNS), lines)


def _insert_new(uow: UnitOfWork, new: pl.DataFrame, checked: CheckedBatch) -> pl.DataFrame:
    ids = uow.orders.allocate_ids(new.height)
    new = new.with_columns(
        pl.Series("id", ids, dtype=pl.Int64), pl.lit(OrderStatus.CAPTURED.value).alias("status")
    )
    lines = checked.lines.join(new.select("rec", pl.col("id").alias("order_id")), on="rec")
    uow.orders.insert(new, lines)
    crash_point("captured", "orders")  # tests: killed with the rows written, not committed
    return new.select(
        "rec", "line", pl.col("id").alias("order_id"), pl.lit("created").alias("status")
    )


def _write(
    uow: UnitOfWork, first: pl.DataFrame, checked: CheckedBatch
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Store the batch's new orders; stored ones come back ``existing`` (same content) or as
    conflicts. Fresh batches take one optimistic insert; a batch whose keys are (partly) stored,
    such as a re-import, is resolved set-wise first: one read of the stored orders with these keys,
    compared by content fingerprint. A concurrent writer that stores some of the keys between the
    read and the insert (PostgreSQL: another import of the same file) makes the insert fail in its
    savepoint; the keys are then read again, and what it stored counts as ``existing``."""
    created: list[pl.DataFrame] = []
    existing: list[pl.DataFrame] = []
    conflicts: list[pl.DataFrame] = []
    pending = first
    resolve = uow.orders.any_stored(first)
    for _attempt in range(MAX_WRITE_ATTEMPTS):
        if resolve:
            found, clashes, pending = _split_stored(uow, pending, checked)
            existing.append(found)
            conflicts.append(clashes)
        if pending.height == 0:
            break
        try:
            with uow.connection.begin_nested():
                created.append(_insert_new(uow, pending, checked))
            break
        except DuplicateOrderKey:
            resolve = True
    else:
        conflicts.append(_conflict_errors(pending, "concurrently, still being written"))
    return (
        pl.concat([pl.DataFrame(schema=RESULT_SCHEMA), *created]),
        pl.concat([pl.DataFrame(schema=RESULT_SCHEMA), *existing]),
        pl.concat([pl.DataFrame(schema=ERROR_SCHEMA), *conflicts]),
    )


def _split_stored(
    uow: UnitOfWork, first: pl.DataFrame, checked: CheckedBatch
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Batch orders already stored, split set-wise: same content (existing), other content
    (conflicts); and the rest, still to insert. Large batches on SQLite are compared in SQL
    (``compare_stored``); otherwise the stored rows are read and compared by fingerprint."""
    lines = checked.lines.join(first.select("rec"), on="rec", how="semi")
    compared = uow.orders.compare_stored(first.select("rec", *CONTENT_COLUMNS), lines)
    if compared is not None:
        matched = first.join(compared, on="rec")
        existing = matched.filter(pl.col("same")).select(
            "rec", "line", pl.col("id").alias("order_id"), pl.lit("existing").alias("status")
        )
        conflicts = _conflict_errors(matched.filter(~pl.col("same")), "stored")
        new = first.join(compared.select("rec"), on="rec", how="anti")
        return existing.cast(RESULT_SCHEMA), conflicts, new
    stored_orders, stored_lines = uow.orders.stored_for_keys(first)
    if stored_orders.height == 0:
        return pl.DataFrame(schema=RESULT_SCHEMA), pl.DataFrame(schema=ERROR_SCHEMA), first
    stored_keys = stored_orders.select("channel", "external_id", "id")
    stored_fp = content_fingerprint(
        stored_orders.rename({"id": "rec"}).select("rec", *CONTENT_COLUMNS),
        stored_lines.rename({"order_id": "rec"}).select("rec", *LINE_CONTENT_COLUMNS),
    ).rename({"rec": "id", "fingerprint": "stored_fingerprint"})
    matched = first.join(stored_keys, on=["channel", "external_id"])
    matched = matched.join(_fingerprints(matched, checked), on="rec").join(stored_fp, on="id")
    same = pl.col("fingerprint") == pl.col("stored_fingerprint")
    existing = matched.filter(same).select(
        "rec", "line", pl.col("id").alias("order_id"), pl.lit("existing").alias("status")
    )
    conflicts = _conflict_errors(matched.filter(~same), "stored")
    new = first.join(stored_keys, on=["channel", "external_id"], how="anti")
    return existing.cast(RESULT_SCHEMA), conflicts, new


def _resolve_repeats(
    repeats: pl.DataFrame, first: pl.DataFrame, checked: CheckedBatch, results: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A key repeated inside one batch: same content follows the first record, else conflict."""
    if repeats.height == 0:
        return pl.DataFrame(schema=RESULT_SCHEMA), pl.DataFrame(schema=ERROR_SCHEMA)
    firsts = first.join(repeats.select("channel", "external_id").unique(),
                        on=["channel", "external_id"], how="semi")  # fmt: skip
    reference = (
        firsts.join(_fingerprints(firsts, checked), on="rec")
        .select("channel", "external_id", pl.col("rec").alias("first_rec"),
                pl.col("fingerprint").alias("first_fingerprint"))
        .join(results.select(pl.col("rec").alias("first_rec"), "order_id"), on="first_rec",
              how="left")
    )  # fmt: skip
    matched = repeats.join(_fingerprints(repeats, checked), on="rec").join(
        reference, on=["channel", "external_id"]
    )
    same = (pl.col("fingerprint") == pl.col("first_fingerprint")) & pl.col("order_id").is_not_null()
    accepted = matched.filter(same).select(
        "rec", "line", "order_id", pl.lit("existing").alias("status")
    )
    return accepted, _conflict_errors(matched.filter(~same), "earlier in this batch")


def _conflict_errors(frame: pl.DataFrame, where: str) -> pl.DataFrame:
    return frame.select(
        "rec", "line", pl.lit("external_id").alias("field"),
        pl.lit(f"order already captured ({where}) with different content").alias("reason"),
        pl.concat_str("channel", pl.lit("/"), "external_id").alias("value"),
    ).cast(ERROR_SCHEMA)  # fmt: skip


# --- one order --------------------------------------------------------------------------------
def order_frames(orders: list[Order]) -> OrderBatch:
    """Domain orders as a kernel batch (amounts as exact decimal text)."""
    order_rows = []
    line_rows = []
    for rec, order in enumerate(orders):
        b, c = order.buyer, order.consignee
        order_rows.append({
            "rec": rec, "channel": order.channel, "external_id": order.external_id,
            "seller_id": order.seller_id, "platform_id": order.platform_id,
            "trade_mode": order.trade_mode.value, "direction": order.direction.value,
            "incoterm": order.incoterm.value, "currency": order.currency,
            "origin_country": order.origin_country, "buyer_name": b.name,
            "buyer_telephone": b.telephone, "buyer_id_type": b.id_type,
            "buyer_id_number": b.id_number, "buyer_email": b.email, "consignee_name": c.name,
            "consignee_telephone": c.telephone, "consignee_line1": c.line1,
            "consignee_line2": c.line2, "consignee_city": c.city, "consignee_region": c.region,
            "consignee_postcode": c.postcode, "consignee_country": c.country,
            "freight": str(order.freight), "insurance": str(order.insurance),
            "discount": str(order.discount), "placed_at": order.placed_at.isoformat(),
            "promised_by": order.promised_by.isoformat(),
        })  # fmt: skip
        for line_no, line in enumerate(order.lines, start=1):
            line_rows.append({
                "rec": rec, "line": line_no, "sku": line.sku, "description": line.description,
                "hs_code": line.hs_code, "qty": str(line.qty), "unit_price": str(line.unit_price),
                "origin_country": line.origin_country,
            })  # fmt: skip
    string_schema = {k: pl.String for k in order_rows[0] if k != "rec"} if order_rows else {}
    return OrderBatch(
        pl.DataFrame(order_rows, schema_overrides=string_schema),
        pl.DataFrame(line_rows, schema_overrides={"origin_country": pl.String}),
    )


@dataclass(frozen=True, slots=True)
class CaptureResult:
    order_id: int
    created: bool


def capture_order(uow: UnitOfWork, order: Order) -> CaptureResult:
    """Capture one order through the bulk kernel; raises ``InvalidValue`` or ``Conflict``."""
    report = capture_batch(uow, order_frames([order]))
    if report.errors.height:
        error = report.errors.row(0, named=True)
        if "different content" in error["reason"]:
            raise Conflict(f"{error['value']}: {error['reason']}")
        raise InvalidValue(error["field"], error["reason"], error["value"])
    row = report.results.row(0, named=True)
    return CaptureResult(int(row["order_id"]), row["status"] == "created")
