"""Customs receipts and CBEC returns: a declaration's status moves only through its status machine.

Receipts are applied set-wise (one read, one write per kind of change) so that the parcel
lifecycle can clear or hold a whole bag's orders inside its own transaction. Every receipt is
checked before anything is written: an unknown order, an unknown code or a transition the
machine refuses leaves the store (and the caller's open transaction) untouched. Times come from
the clock: the event is dated now, a release on today.

China's assessed tax comes on the CEB816 electronic tax receipt (``apply_tax_receipt``): it names
the declaration by customs' list number ``invtNo``, which the platform learns from the CEB622
list receipt (kept on the declaration), and carries the duty, VAT and consumption tax customs
assessed; each becomes an assessment (source ``customs``, reference ``taxNo``) reconciled with
the kept quote (``customs_variance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lxml import etree

from xborder.customs.ceb import NS, parse, safe_root
from xborder.customs.declaration_status import COUNTED, RECEIPT_CODES, Status, advance
from xborder.customs.regimes import in_force
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.money import Money
from xborder.services.customs_declare import day_of
from xborder.services.customs_variance import (
    AssessmentResult,
    RecordAssessment,
    RecordAssessments,
    record_assessments,
)
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
    root = safe_root(command.data)
    if etree.QName(root).localname == "CEB816Message":
        tax = apply_tax_receipt(uow, ApplyTaxReceipt(command.data, command.note))
        notes = [ReceiptNotice(a.order_no, "assessed", f"{a.reference}: {a.assessed}",
                               f"variance {a.variance} against the quote")
                 for a in tax.assessments] + list(tax.notices)  # fmt: skip
        return ReceiptMessageResult("CEB816", tax.guid, {}, tuple(notes))
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
    list_numbers = {r[key]: r["invtNo"] for r in message.records
                    if key and r.get(key) and r.get("invtNo")}  # fmt: skip
    with uow:
        if wanted:
            statuses = record_receipts(uow, RecordReceipts(wanted, command.note or message.guid))
        if list_numbers and message.code == "CEB622":  # what a CEB816 tax receipt names
            found = uow.customs.get_many(list(list_numbers))
            uow.customs.set_invt_nos(
                [(int(d["id"]), list_numbers[no]) for no, d in found.items()
                 if d.get("invt_no") != list_numbers[no]]
            )  # fmt: skip
        uow.commit()
    return ReceiptMessageResult(message.code, message.guid, statuses, tuple(notices))


# --- the CEB816 electronic tax receipt: what customs assessed ------------------------------------
_TAX_FIELDS = {"duty": "customsTax", "vat": "valueAddedTax", "consumption_tax": "consumptionTax"}
TAX_VOID = "3"  # taxNo status: 1 generated, 2 summarised, 3 void


@dataclass(frozen=True, slots=True)
class ApplyTaxReceipt:
    """A CEB816 electronic tax receipt (XML bytes) customs sent for declared lists."""

    data: bytes
    note: str = ""


@dataclass(frozen=True, slots=True)
class TaxReceiptResult:
    guid: str
    assessments: tuple[AssessmentResult, ...]
    notices: tuple[ReceiptNotice, ...]


def apply_tax_receipt(uow: UnitOfWork, command: ApplyTaxReceipt) -> TaxReceiptResult:
    """Record the duty, VAT and consumption tax of each ``Tax`` of a CEB816 as customs'
    assessment of the declaration with that ``invtNo`` (reference ``taxNo``; idempotent). Amounts
    are yuan with up to 5 decimals, rounded half-up to the fen. A void tax receipt (status 3) is
    reported, not recorded. An unknown ``invtNo`` raises ``NotFound`` and nothing is written."""
    root = safe_root(command.data)
    name = etree.QName(root)
    if name.namespace != NS or name.localname != "CEB816Message":
        raise InvalidValue("xml", "root element is not a CEB816Message", name.localname)
    heads: list[dict[str, str]] = []
    for i, tax in enumerate(root.findall(f"{{{NS}}}Tax")):
        head = tax.find(f"{{{NS}}}TaxHeadRd")
        if head is None:
            raise InvalidValue(f"Tax[{i}]", "has no TaxHeadRd")
        fields = {etree.QName(c).localname: (c.text or "").strip() for c in head
                  if isinstance(c.tag, str)}  # fmt: skip
        for required in ("invtNo", "taxNo", *_TAX_FIELDS.values()):
            if not fields.get(required):
                raise InvalidValue(f"Tax[{i}].{required}", "is required in a CEB816 tax head")
        heads.append(fields)
    if not heads:
        raise InvalidValue("xml", "CEB816 message without a Tax element")
    notices = tuple(ReceiptNotice(h["invtNo"], TAX_VOID, h["taxNo"], "tax receipt void")
                    for h in heads if h.get("status") == TAX_VOID)  # fmt: skip
    live = [h for h in heads if h.get("status") != TAX_VOID]
    with uow:
        by_list = uow.customs.by_invt_nos([h["invtNo"] for h in live])
        missing = next((h["invtNo"] for h in live if h["invtNo"] not in by_list), None)
        if missing is not None:
            raise NotFound(f"no declaration with customs list number {missing!r}")
        items = [
            RecordAssessment(
                str(by_list[h["invtNo"]]["order_no"]), "customs", h["taxNo"], currency="CNY",
                reason=command.note or f"CEB816 {root.get('guid', '')}".strip(),
                **{k: _yuan(h[f], f"Tax[{n}].{f}") for k, f in _TAX_FIELDS.items()},
            )
            for n, h in enumerate(live)
        ]  # fmt: skip
        results = record_assessments(uow, RecordAssessments(items)) if items else []
        uow.commit()
    return TaxReceiptResult(root.get("guid", ""), tuple(results), notices)


def _yuan(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(where, "must be a decimal amount", text) from None
    if not value.is_finite() or value < 0:
        raise InvalidValue(where, "must be a non-negative amount", text)
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


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
