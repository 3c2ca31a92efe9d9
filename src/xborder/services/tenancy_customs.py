"""Tenant-filtered customs reads: declarations with their three-document match, CEB messages.

A broker sees the declarations into its country; a seller or platform those of its orders; the
operator all. The China CBEC messages of one declared order (CEB311 order, CEB411 payment,
CEB511 waybill, CEB621 list) are built from the same stored facts the match reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from xborder.domain.errors import NotFound
from xborder.domain.money import Money
from xborder.services.access import Principal
from xborder.services.customs import Status
from xborder.services.customs_messages_order import OrderMessage, order_message
from xborder.services.tenancy import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    check_status,
    decode_cursor,
    page_of,
    tenant,
)
from xborder.store.uow import UnitOfWork

DECLARATION_STATUSES = tuple(s.value for s in Status)
IMPORT_MESSAGES = ("CEB311", "CEB411", "CEB511", "CEB621")
_AMOUNTS = (
    ("customs_value", "customs_value_minor"),
    ("duty", "duty_minor"),
    ("vat", "vat_minor"),
    ("consumption_tax", "consumption_tax_minor"),
    ("fees", "fees_minor"),
    ("total_tax", "total_tax_minor"),
    ("landed_cost", "landed_minor"),
)


@dataclass(frozen=True, slots=True)
class DeclarationsFor:
    principal: Principal
    status: str | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def declarations_for(uow: UnitOfWork, command: DeclarationsFor) -> Page[dict[str, Any]]:
    """The caller's declarations, newest first; ``total_tax`` and ``landed_cost`` as Money."""
    limit = check_limit(command.limit)
    status = check_status(command.status, DECLARATION_STATUSES)
    before = decode_cursor(command.cursor, int)
    role, party = tenant(command.principal)
    with uow:
        rows = uow.tenancy.declarations(role, party, status=status, before=before, limit=limit + 1)
    for row in rows:
        currency = str(row.pop("tax_currency"))
        row["total_tax"] = Money.from_minor(int(row.pop("total_tax_minor")), currency)
        row["landed_cost"] = Money.from_minor(int(row.pop("landed_minor")), currency)
    return page_of(rows, limit, "id")


@dataclass(frozen=True, slots=True)
class DeclarationFor:
    principal: Principal
    order_id: int


@dataclass(frozen=True, slots=True)
class DeclarationView:
    """One order's declaration: its facts, amounts as Money, its status history and the saved
    three-document match (``match_status`` None when never matched)."""

    order_id: int
    order_no: str
    status: str
    regime: str
    destination: str
    channel: str
    tax_payer: str
    collected_at: str
    declared_on: date
    released_on: date | None
    amounts: dict[str, Money]
    events: list[dict[str, Any]]
    match_status: str | None
    match_checked_on: date | None
    problems: list[dict[str, Any]]


def _visible(uow: UnitOfWork, principal: Principal, order_id: int) -> dict[str, Any]:
    role, party = tenant(principal)
    decl = None
    if uow.tenancy.declaration_visible(role, party, order_id):
        decl = uow.customs.by_order_id(order_id)
    if decl is None:
        raise NotFound(f"order {order_id} has no declaration you may see")
    return decl


def declaration_for(uow: UnitOfWork, command: DeclarationFor) -> DeclarationView:
    with uow:
        decl = _visible(uow, command.principal, command.order_id)
        saved = uow.customs.match_result(str(decl["order_no"]))
        events = uow.customs.events(int(decl["id"]))
    currency = str(decl["tax_currency"])
    return DeclarationView(
        order_id=command.order_id,
        order_no=str(decl["order_no"]),
        status=str(decl["status"]),
        regime=str(decl["regime"]),
        destination=str(decl["destination"]),
        channel=str(decl["channel"]),
        tax_payer=str(decl["tax_payer"]),
        collected_at=str(decl["collected_at"]),
        declared_on=decl["declared_on"],
        released_on=decl["released_on"],
        amounts={k: Money.from_minor(int(decl[c]), currency) for k, c in _AMOUNTS},
        events=[
            {
                "seq": e["seq"],
                "code": e["code"],
                "status": e["status"],
                "at": e["at"],
                "note": e["note"],
            }
            for e in events
        ],
        match_status=saved["status"] if saved else None,
        match_checked_on=saved["checked_on"] if saved else None,
        problems=list(json.loads(saved["problems"])) if saved else [],
    )


@dataclass(frozen=True, slots=True)
class CebFor:
    principal: Principal
    order_id: int
    message_type: str


def ceb_for(uow: UnitOfWork, command: CebFor) -> bytes:
    """The CEB XML message of one declared China import order, complete from the stored facts
    (``customs_messages_order``); ``NotFound`` when the order has no such document yet (an
    unpaid order has no CEB411, an unpacked one no CEB511 or CEB621)."""
    code = command.message_type.strip().upper()
    if code not in IMPORT_MESSAGES:
        raise NotFound(f"no message {command.message_type}; one of {', '.join(IMPORT_MESSAGES)}")
    with uow:
        _visible(uow, command.principal, command.order_id)
        # Unsigned: the enterprise's signing client (or ``xborder customs message --key``) signs
        # a declaration list before it is sent; the API never holds the enterprise's private key.
        return order_message(uow, OrderMessage(command.order_id, code, unsigned=True))
