"""The CEB message of one stored China import order, complete to the GACC 202205 schema.

CEB311 (order), CEB411 (payment), CEB511 (logistics waybill) and CEB621 (import list) of an order
are written from the facts the platform stores, never from stand-ins: the order and its lines,
its declaration and payments, its parcel, and the world's parties, products, warehouses, lanes and
hubs. The documents the three-document match reads (``cn_documents``) give the amounts and the
buyer; this module adds what a message needs beyond the match. docs/customs.md ("Where each
required element comes from") lists the fact behind every required element.

A fact the store lacks is left out, so writing the message raises ``InvalidValue`` naming the
schema's field (the API answers 422); an order that has no such document yet (no payment: no
CEB411; no parcel: no CEB511 or CEB621) raises ``NotFound``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from xborder.customs.ceb import CHINA_TIME
from xborder.customs.ceb_codes import (
    BONDED_EXIT_MODE,
    BONDED_IMPORT,
    DIRECT_IMPORT,
    TRANSPORT_MODES,
    UNIT_PIECE,
    gacc_country,
    legal_unit,
)
from xborder.domain.errors import NotFound
from xborder.services.customs_documents import CEB_CURRENCIES, cn_documents
from xborder.services.customs_messages import (
    DEFAULT_ALGORITHM,
    MESSAGE_TYPES,
    Enterprise,
    WriteMessage,
    load_enterprise,
    write_message,
)
from xborder.store.uow import UnitOfWork

ORDER_MESSAGES = ("CEB311", "CEB411", "CEB511", "CEB621")
# the messages' guids: uuid5 of "CODE:orderNo" in this namespace, so a message re-written for
# the same order keeps its guid (the namespace the API has used since it wrote these messages)
CEB_NAMESPACE = uuid.UUID("6b1d2c3e-7a42-4c1f-9e0b-2f0c5d8a9b10")
PACKAGES_PER_PARCEL = 1  # the platform packs each order into one parcel (parcels.order_id unique)


@dataclass(frozen=True, slots=True)
class OrderMessage:
    """Write the CEB message ``code`` of the stored China import order ``order_id``.

    ``enterprise``: the declaring enterprise (None: from configuration, ``load_enterprise``); it
    is also the list's declaring agent (CEB621 agentCode, agentName). A CEB621 list is signed
    with the enterprise's key and certificate unless ``unsigned``.
    """

    order_id: int
    code: str
    enterprise: Enterprise | None = None
    unsigned: bool = False
    algorithm: str = DEFAULT_ALGORITHM


def message_guid(code: str, order_no: str) -> str:
    return str(uuid.uuid5(CEB_NAMESPACE, f"{code}:{order_no}")).upper()


def order_message(uow: UnitOfWork, command: OrderMessage) -> bytes:
    """The XML message, dated ``uow.clock.now()``; ``InvalidValue`` names a missing fact."""
    enterprise = command.enterprise or load_enterprise()
    with uow:
        now = uow.clock.now()
        record = order_record(uow, command.order_id, command.code, enterprise)
    write = WriteMessage(
        command.code.strip().upper(), [record], enterprise, now,
        message_guid(command.code.strip().upper(), str(record["orderNo"])),
        command.unsigned, command.algorithm,
    )  # fmt: skip
    return write_message(write)


def _ceb_time(at: datetime) -> str:
    return at.astimezone(CHINA_TIME).strftime("%Y%m%d%H%M%S")


def _minor_text(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def _kg(value: Decimal) -> str:
    return format(value.normalize(), "f")


def order_record(
    uow: UnitOfWork, order_id: int, code: str, enterprise: Enterprise
) -> dict[str, Any]:
    """The message record (head fields and ``lines``) of one declared China import order."""
    code = code.strip().upper()
    if code not in ORDER_MESSAGES:
        raise NotFound(f"no message {code}; one of {', '.join(ORDER_MESSAGES)}")
    with uow:
        facts = _facts(uow, order_id, code)
    head = _head(facts, code)
    if code == "CEB621":
        head.update(agentCode=enterprise.cop_code, agentName=enterprise.cop_name)
    if code in ("CEB311", "CEB621"):
        head["lines"] = _lines(facts, code)
    return {k: v for k, v in head.items() if v is not None}


@dataclass(frozen=True, slots=True)
class _Facts:
    doc: dict[str, Any]  # the match's document of this message (cn_documents)
    order: dict[str, Any]
    lines: list[dict[str, Any]]
    names: Mapping[str, str]  # customs code -> registered name
    ebp_code: str | None  # the platform's customs code
    logistics_code: str | None  # the parcel's logistics enterprise's customs code
    seller_country: str | None
    paid_at: datetime | None
    parcel: dict[str, Any] | None
    net_weights: Mapping[str, Decimal]
    trade_mode: str | None
    traf_mode: str | None
    office: str | None


def _facts(uow: UnitOfWork, order_id: int, code: str) -> _Facts:
    repo = uow.customs
    declared = repo.declared_orders([order_id], regime="CN")
    if declared.is_empty():
        raise NotFound(f"order {order_id} has no China import declaration")
    orders, lines = uow.orders.load([order_id])
    order = orders.row(0, named=True)
    parcel = _parcel(uow, order_id)
    if parcel is None and code in ("CEB511", "CEB621"):
        raise NotFound(f"order {order_id} has no parcel yet, so no {code} document")
    payments = repo.order_payments([order_id])
    if payments.is_empty() and code == "CEB411":
        raise NotFound(f"order {order_id} has no payment yet, so no CEB411 document")
    route = _route(uow, parcel)
    if parcel is not None:  # the waybill is the parcel's, of its logistics enterprise
        declared = declared.with_columns(
            pl.lit(parcel["tracking_no"], pl.String).alias("tracking_no"),
            pl.lit(route["carrier"], pl.String).alias("carrier_id"),
        )
    codes = repo.customs_codes()
    docs = cn_documents(declared, codes, repo.order_lines([order_id]), payments)
    frame = {"CEB311": docs.orders, "CEB411": docs.payments, "CEB511": docs.waybills,
             "CEB621": docs.lists}[code]  # fmt: skip
    parties = uow.world.party_facts(sorted({*codes, str(order["seller_id"])}))
    first_paid = uow.orders.payments_for(order_id)
    return _Facts(
        doc=frame.row(0, named=True),
        order=order,
        lines=lines.to_dicts(),
        names={
            str(p["customs_code"]): str(p["name"]) for p in parties.values() if p["customs_code"]
        },
        ebp_code=codes.get(str(order["platform_id"])),
        logistics_code=codes.get(str(route["carrier"])) if route["carrier"] else None,
        seller_country=parties.get(str(order["seller_id"]), {}).get("country"),
        paid_at=first_paid[0]["paid_at"] if first_paid else None,
        parcel=parcel,
        net_weights=uow.world.net_weights(sorted({str(ln["sku"]) for ln in lines.to_dicts()})),
        trade_mode=route["trade_mode"],
        traf_mode=route["traf_mode"],
        office=route["office"],
    )


def _parcel(uow: UnitOfWork, order_id: int) -> dict[str, Any] | None:
    """The order's parcel (ids of its warehouse, lane and last-mile service) and gross weight."""
    found = uow.parcels.of_orders([order_id])
    if found.is_empty():
        return None
    parcel = found.row(0, named=True)
    detail = {str(d["id"]): d for d in uow.parcels.detail_of_order(order_id)}
    gross = detail.get(str(parcel["id"]), {}).get("gross_kg")
    return {**parcel, "gross_kg": None if gross is None else Decimal(str(gross))}


def _route(uow: UnitOfWork, parcel: Mapping[str, Any] | None) -> dict[str, str | None]:
    """How the parcel enters China: supervision mode, transport mode, customs office of entry,
    and its logistics enterprise (the import lane's carrier, else the domestic carrier that
    delivers it from the bonded warehouse)."""
    out: dict[str, str | None] = dict.fromkeys(("trade_mode", "traf_mode", "office", "carrier"))
    if parcel is None:
        return out
    offices = uow.world.hub_offices()
    lane = next((ln for ln in uow.world.lanes() if ln["id"] == parcel["lane_id"]), None)
    house = next((w for w in uow.world.warehouses() if w["id"] == parcel["warehouse_id"]), None)
    last = next((m for m in uow.world.last_mile() if m["id"] == parcel["last_mile_id"]), None)
    if house is not None and house.get("customs_mode") == BONDED_IMPORT:
        out.update(trade_mode=BONDED_IMPORT, traf_mode=BONDED_EXIT_MODE,
                   office=offices.get(str(house.get("hub_id"))))  # fmt: skip
    elif lane is not None:
        out.update(trade_mode=DIRECT_IMPORT, traf_mode=TRANSPORT_MODES.get(str(lane["mode"])),
                   office=offices.get(str(lane.get("dest_hub"))))  # fmt: skip
    if lane is not None:
        out["carrier"] = str(lane["carrier_id"])
    elif last is not None:
        out["carrier"] = str(last["carrier_id"])
    return out


def _head(facts: _Facts, code: str) -> dict[str, Any]:
    head = dict(facts.doc)
    order, parcel = facts.order, facts.parcel
    if code == "CEB311":
        head["buyerRegNo"] = order.get("buyer_email")
    elif code == "CEB411":
        head["ebpCode"] = facts.ebp_code
        head["payTime"] = _ceb_time(facts.paid_at) if facts.paid_at else None
    elif code in ("CEB511", "CEB621"):
        assert parcel is not None
        head["logisticsCode"] = facts.logistics_code  # never the match's illustrative code
        gross = parcel["gross_kg"]
        head["packNo"] = str(PACKAGES_PER_PARCEL)
        if code == "CEB511":
            head["weight"] = None if gross is None else _kg(gross)
        else:
            head.update(
                assureCode=head.get("ebcCode"),
                customsCode=facts.office,
                portCode=facts.office,
                consigneeAddress=_address(order),
                tradeMode=facts.trade_mode,
                trafMode=facts.traf_mode,
                country=gacc_country(facts.seller_country),
                grossWeight=None if gross is None else _kg(gross),
                netWeight=_net_weight(facts),
            )
    fields = set(MESSAGE_TYPES[code].names())
    for key in [k for k in head if k.endswith("Code") and head[k] is not None]:
        if (name := f"{key[:-4]}Name") in fields:  # each party's registered name by its code
            head.setdefault(name, facts.names.get(str(head[key])))
    return head


def _address(order: Mapping[str, Any]) -> str:
    return f"{order['consignee_line1']}, {order['consignee_city']}"


def _net_weight(facts: _Facts) -> str | None:
    total = Decimal(0)
    for line in facts.lines:
        weight = facts.net_weights.get(str(line["sku"]))
        if weight is None:
            return None
        total += weight * int(line["qty"])
    return _kg(total)


def _lines(facts: _Facts, code: str) -> list[dict[str, Any]]:
    currency = CEB_CURRENCIES.get(str(facts.order["currency"]), str(facts.order["currency"]))
    out: list[dict[str, Any]] = []
    for line in facts.lines:
        qty, unit_minor = int(line["qty"]), int(line["unit_price_minor"])
        item: dict[str, Any] = {
            "gnum": str(line["line_no"]),
            "itemNo": line["sku"],
            "currency": currency,
            "qty": str(qty),
            "unit": UNIT_PIECE,
            "price": _minor_text(unit_minor),
            "totalPrice": _minor_text(unit_minor * qty),
            "country": gacc_country(line["origin_country"]),
        }
        if code == "CEB311":
            item.update(itemName=line["description"], gmodel=line["description"])
        else:
            item.update(
                gcode=f"{str(line['hs_code'])[:6]}0000",
                gname=line["description"],
                gmodel=line["description"],
                tradeCountry=gacc_country(facts.seller_country),
                **_legal_quantity(line, facts.net_weights.get(str(line["sku"]))),
            )
        out.append({k: v for k, v in item.items() if v is not None})
    return out


def _legal_quantity(line: Mapping[str, Any], net_kg: Decimal | None) -> dict[str, str]:
    """qty1 and unit1: the line's quantity in the legal first unit of its HS code."""
    legal = legal_unit(line["hs_code"])
    if legal is None or net_kg is None:
        return {}
    unit, basis = legal
    assert basis == "net_kg"
    return {"qty1": _kg(net_kg * int(line["qty"])), "unit1": unit}
