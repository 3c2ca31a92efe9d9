"""Customs receipts and CBEC returns: a declaration's status moves only through its status machine.

Receipts are applied set-wise (one read, one write per kind of change) so that the parcel
lifecycle can clear or hold a whole bag's orders inside its own transaction. Every receipt is
checked before anything is written: an unknown order, an unknown code or a transition the
machine refuses leaves the store (and the caller's open transaction) untouched. Times come from
the clock: the event is dated now, a release on today.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from xborder.customs.ceb import parse
from xborder.customs.declaration_status import COUNTED, RECEIPT_CODES, Status, advance
from xborder.customs.regimes import in_force
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.money import Money
from xborder.services.customs_declare import day_of
from xborder.store.customs_repo import CustomsRepository
from xborder.store.uow import UnitOfWork

_RESTORING = frozenset({Status.REJECTED, Status.RETURNED})


@dataclass(frozen=True, slots=True)
class RecordReceipt:
    """A customs receipt code (``2``, ``120``, ``300``, ``399``, ``500``, ``800``, ``899``,
    ``100``, ``700``) for the declaration of ``order_no``."""

    order_no: str
    code: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    order_no: str
    status: str
    previous: str


@dataclass(frozen=True, slots=True)
class RecordReceipts:
    """Many receipts, ``(order_no, code)`` each, applied in the order given (an order may have
    several, e.g. 120 then 399 then 800)."""

    receipts: Sequence[tuple[str, str]]
    note: str = ""


def record_receipt(uow: UnitOfWork, command: RecordReceipt) -> ReceiptResult:
    """Apply one receipt code (idempotent as ``record_receipts``). Rejection (100) or return
    (700) gives the buyer's annual CBEC total back."""
    with uow:
        moves = _apply(uow, [(command.order_no, command.code)], command.note)
        uow.commit()
    previous, status = moves[command.order_no]
    return ReceiptResult(command.order_no, status.value, previous.value)


def record_receipts(uow: UnitOfWork, command: RecordReceipts) -> dict[str, str]:
    """Apply many receipts at once; returns each order number's status afterwards.

    Idempotent: a receipt for the status the declaration is in changes nothing, and so does one
    the declaration has already recorded but the machine would now refuse (a late duplicate, e.g.
    the whole batch sent again). An unknown order (``NotFound``), an unknown code
    (``InvalidValue``) or any other transition the machine refuses (``Conflict``) raises before
    anything is written.
    """
    with uow:
        moves = _apply(uow, command.receipts, command.note)
        uow.commit()
    return {order_no: status.value for order_no, (_, status) in moves.items()}


# The list receipts that drive a declaration, and the field naming the declaration in each: the
# platform writes a CEB621 with copNo = orderNo (CEB622 does not repeat the order number); the
# export list receipt CEB604 names the order itself.
LIST_RECEIPTS = {"CEB622": "copNo", "CEB604": "orderNo"}
# The receipts to orders, payments and waybills (and their export twins): parsed and reported,
# they do not move the declaration list's status.
OTHER_RECEIPTS = frozenset({"CEB312", "CEB412", "CEB512", "CEB304", "CEB404", "CEB506"})


@dataclass(frozen=True, slots=True)
class ApplyReceiptMessage:
    """A receipt message customs (China E-Port) sent back, as XML bytes."""

    data: bytes
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptNotice:
    """A receipt that changes no declaration: what it is about, its code and customs' text."""

    subject: str
    code: str
    info: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReceiptMessageResult:
    code: str
    guid: str
    statuses: dict[str, str]  # order number -> the declaration's status afterwards
    notices: tuple[ReceiptNotice, ...]


def apply_receipt_message(uow: UnitOfWork, command: ApplyReceiptMessage) -> ReceiptMessageResult:
    """Apply a receipt message: a list receipt (CEB622, CEB604) moves each named declaration
    through the status machine (all of the message or nothing, as ``record_receipts``); a code
    the machine does not model (1 stored, 3 sent, 4 send failed, 501-599 held, a negative format
    error) and the order, payment and waybill receipts are reported as notices, not applied."""
    message = parse(command.data)
    if message.code not in LIST_RECEIPTS and message.code not in OTHER_RECEIPTS:
        raise InvalidValue("type", f"{message.code} is not a receipt customs sends back")
    key = LIST_RECEIPTS.get(message.code)
    wanted: list[tuple[str, str]] = []
    notices: list[ReceiptNotice] = []
    for i, record in enumerate(message.records):
        code = record.get("returnStatus", "")
        info = record.get("returnInfo", "")
        subject = next(
            (record[k] for k in ("orderNo", "copNo", "payTransactionId", "logisticsNo")
             if record.get(k)), "",
        )  # fmt: skip
        if not code:
            raise InvalidValue(f"records[{i}].returnStatus", "is required in a receipt")
        if key is None:
            notices.append(ReceiptNotice(subject, code, info, "not a declaration list receipt"))
        elif not record.get(key):
            raise InvalidValue(f"records[{i}].{key}", "names no declaration")
        elif code not in RECEIPT_CODES:
            notices.append(ReceiptNotice(subject, code, info, "not a status of the machine"))
        else:
            wanted.append((record[key], code))
    statuses: dict[str, str] = {}
    if wanted:
        statuses = record_receipts(uow, RecordReceipts(wanted, command.note or message.guid))
    return ReceiptMessageResult(message.code, message.guid, statuses, tuple(notices))


def _apply(
    uow: UnitOfWork, receipts: Sequence[tuple[str, str]], note: str
) -> dict[str, tuple[Status, Status]]:
    """Check every receipt against the machine, then write; (before, after) per order."""
    repo = uow.customs
    wanted = [(str(order_no), str(code).strip()) for order_no, code in receipts]
    declarations = repo.get_many([order_no for order_no, _ in wanted])
    for order_no, _ in wanted:
        if order_no not in declarations:
            raise NotFound(f"no declaration for order {order_no!r}")
    before = {no: Status(d["status"]) for no, d in declarations.items()}
    recorded = repo.recorded_codes([int(d["id"]) for d in declarations.values()])
    seen = {no: recorded[int(d["id"])] for no, d in declarations.items()}
    state = dict(before)
    changes: list[tuple[str, str, Status]] = []
    for order_no, code in wanted:
        try:
            target = advance(state[order_no], code)
        except Conflict:
            if code in seen[order_no]:
                continue  # a late duplicate of a receipt already applied (a replayed batch)
            raise
        if target != state[order_no]:
            state[order_no] = target
            seen[order_no].add(code)
            changes.append((order_no, code, target))
    if changes:
        _write(repo, declarations, changes, uow.clock.now().date(), uow, note)
    return {no: (before[no], state[no]) for no, _ in wanted}


def _write(
    repo: CustomsRepository,
    declarations: dict[str, dict[str, Any]],
    changes: list[tuple[str, str, Status]],
    today: date,
    uow: UnitOfWork,
    note: str,
) -> None:
    now = uow.clock.now()
    seqs = repo.last_seqs([int(declarations[no]["id"]) for no, _, _ in changes])
    events: list[dict[str, Any]] = []
    updates: dict[str, dict[str, Any]] = {}
    for order_no, code, target in changes:
        decl = declarations[order_no]
        seqs[decl["id"]] += 1
        events.append(
            {
                "declaration_id": decl["id"],
                "seq": seqs[decl["id"]],
                "code": code,
                "status": target.value,
                "at": now,
                "note": note,
            }
        )
        values = updates.setdefault(order_no, {"id": decl["id"]})
        values["status"] = target.value
        if target == Status.RELEASED:
            values["released_on"] = today
        if target in _RESTORING and decl["counted_minor"] and decl["buyer_id"]:
            values["counted_minor"] = 0
    repo.add_events(events)
    repo.update_many(list(updates.values()))
    _restore_annual(repo, [declarations[no] for no, v in updates.items() if "counted_minor" in v])


def _restore_annual(repo: CustomsRepository, declarations: list[dict[str, Any]]) -> None:
    """Give counted CBEC amounts back to their buyers' totals of the year they were declared."""
    by_year: dict[int, list[tuple[str, int, int]]] = {}
    for decl in declarations:
        by_year.setdefault(decl["declared_on"].year, []).append(
            (str(decl["buyer_id"]), -int(decl["counted_minor"]), -1)
        )
    for year, deltas in by_year.items():
        repo.add_annual(year, deltas)


@dataclass(frozen=True, slots=True)
class ReturnGoods:
    """A CBEC buyer returns released goods on ``on`` (default: the clock's today)."""

    order_no: str
    on: date | None = None


@dataclass(frozen=True, slots=True)
class ReturnResult:
    order_no: str
    status: str
    refund_minor: int
    currency: str
    rule: str

    @property
    def refund(self) -> Money:
        return Money.from_minor(self.refund_minor, self.currency)


def return_goods(uow: UnitOfWork, command: ReturnGoods) -> ReturnResult:
    """A CBEC buyer's return within the window after release: the tax is refunded and the
    buyer's annual total restored (GACC Announcement [2018] No. 194)."""
    order_no = command.order_no
    with uow:
        on = day_of(uow, command.on)
        repo = uow.customs
        decl = repo.get(order_no)
        if decl is None:
            raise NotFound(f"no declaration for order {order_no!r}")
        if Status(decl["status"]) not in COUNTED or decl["released_on"] is None:
            raise Conflict(
                f"order {order_no}: only released goods can be returned (status {decl['status']})"
            )
        rule = in_force("CN", "return", on) if decl["regime"] == "CN" else None
        if rule is None:
            raise Conflict(f"order {order_no}: no return rule for regime {decl['regime']} on {on}")
        window = int(str(rule.params["window_days"]))
        if on > decl["released_on"] + timedelta(days=window) or on < decl["released_on"]:
            raise Conflict(
                f"order {order_no}: return on {on} is outside the {window}-day window after "
                f"release on {decl['released_on']} ({rule.source})"
            )
        refund = int(decl["total_tax_minor"])
        currency = str(decl["tax_currency"])
        values: dict[str, Any] = {"id": decl["id"], "status": Status.REFUNDED.value}
        if decl["counted_minor"] and decl["buyer_id"]:
            values["counted_minor"] = 0
            _restore_annual(repo, [decl])
        repo.update_many([values])
        repo.add_event(
            decl["id"],
            None,
            Status.REFUNDED.value,
            uow.clock.now(),
            f"returned within {window} days: tax {Money.from_minor(refund, currency)} "
            f"refunded ({rule.id})",
        )
        uow.commit()
    return ReturnResult(order_no, Status.REFUNDED.value, refund, currency, rule.id)
