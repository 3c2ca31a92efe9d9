"""China CBEC customs messages (GACC Announcement 56/2018): generate and parse their XML.

Import: CEB311 order, CEB411 payment, CEB511 waybill, CEB621 declaration list; export: CEB303
order, CEB403 receipt of payment, CEB505 waybill, CEB603 list. Namespace
``http://www.chinaport.gov.cn/ceb``. A record is a dict of the head's fields (strings, CEB field
names, including the standard's own spelling ``acturalPaid``) plus ``lines`` for the goods of
orders and lists; the same records are accepted as JSON lines. Fields are written in the
standard's order; a field the standard does not have is refused, naming it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree

from xborder.domain.errors import InvalidValue

NS = "http://www.chinaport.gov.cn/ceb"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_Q = f"{{{NS}}}"

_ORDER_HEAD = (
    "guid",
    "appType",
    "appTime",
    "appStatus",
    "orderType",
    "orderNo",
    "ebpCode",
    "ebpName",
    "ebcCode",
    "ebcName",
    "goodsValue",
    "freight",
    "discount",
    "taxTotal",
    "acturalPaid",
    "currency",
    "buyerRegNo",
    "buyerName",
    "buyerTelephone",
    "buyerIdType",
    "buyerIdNumber",
    "payCode",
    "payName",
    "payTransactionId",
    "batchNumbers",
    "consignee",
    "consigneeTelephone",
    "consigneeAddress",
    "consigneeDitrict",
    "note",
)
_ORDER_LIST = (
    "gnum",
    "itemNo",
    "itemName",
    "gmodel",
    "itemDescribe",
    "barCode",
    "unit",
    "qty",
    "price",
    "totalPrice",
    "currency",
    "country",
    "note",
)
_PAYMENT_HEAD = (
    "guid",
    "appType",
    "appTime",
    "appStatus",
    "payCode",
    "payName",
    "payTransactionId",
    "orderNo",
    "ebpCode",
    "ebpName",
    "payerIdType",
    "payerIdNumber",
    "payerName",
    "telephone",
    "amountPaid",
    "currency",
    "payTime",
    "note",
)
_LOGISTICS_HEAD = (
    "guid",
    "appType",
    "appTime",
    "appStatus",
    "logisticsCode",
    "logisticsName",
    "logisticsNo",
    "billNo",
    "orderNo",
    "freight",
    "insuredFee",
    "currency",
    "weight",
    "packNo",
    "goodsInfo",
    "consignee",
    "consigneeAddress",
    "consigneeTelephone",
    "note",
)
_INVENTORY_HEAD = (
    "guid",
    "appType",
    "appTime",
    "appStatus",
    "orderNo",
    "ebpCode",
    "ebpName",
    "ebcCode",
    "ebcName",
    "logisticsNo",
    "logisticsCode",
    "logisticsName",
    "copNo",
    "preNo",
    "assureCode",
    "emsNo",
    "invtNo",
    "ieFlag",
    "declTime",
    "customsCode",
    "portCode",
    "ieDate",
    "buyerIdType",
    "buyerIdNumber",
    "buyerName",
    "buyerTelephone",
    "consigneeAddress",
    "agentCode",
    "agentName",
    "areaCode",
    "areaName",
    "tradeMode",
    "trafMode",
    "trafNo",
    "voyageNo",
    "billNo",
    "loctNo",
    "licenseNo",
    "country",
    "freight",
    "insuredFee",
    "currency",
    "wrapType",
    "packNo",
    "grossWeight",
    "netWeight",
    "note",
)
_INVENTORY_LIST = (
    "gnum",
    "itemRecordNo",
    "itemNo",
    "itemName",
    "gcode",
    "gname",
    "gmodel",
    "barCode",
    "country",
    "currency",
    "qty",
    "qty1",
    "qty2",
    "unit",
    "unit1",
    "unit2",
    "price",
    "totalPrice",
    "note",
)
_RECEIPTS = (
    "guid",
    "appType",
    "appTime",
    "appStatus",
    "ebpCode",
    "ebpName",
    "ebcCode",
    "ebcName",
    "orderNo",
    "payCode",
    "payName",
    "payNo",
    "charge",
    "currency",
    "accountingDate",
    "note",
)
_EXPORT_LOGISTICS = (
    "guid",
    "appType",
    "appTime",
    "appStatus",
    "logisticsCode",
    "logisticsName",
    "logisticsNo",
    "freight",
    "insuredFee",
    "currency",
    "grossWeight",
    "packNo",
    "goodsInfo",
    "ebcCode",
    "ebcName",
    "ebcTelephone",
    "note",
)
_BASE_TRANSFER = ("copCode", "copName", "dxpMode", "dxpId", "note")
_ALIASES = {"consingee": "consignee"}  # a spelling found in some CEB511 implementations


@dataclass(frozen=True, slots=True)
class MessageType:
    code: str
    record: str
    head: str | None  # None: the record's fields sit directly in the record element
    head_fields: tuple[str, ...]
    list_element: str | None = None
    list_fields: tuple[str, ...] = ()
    doc: str = ""


MESSAGE_TYPES: dict[str, MessageType] = {
    m.code: m
    for m in (
        MessageType(
            "CEB311", "Order", "OrderHead", _ORDER_HEAD, "OrderList", _ORDER_LIST, "import order"
        ),
        MessageType("CEB411", "Payment", "PaymentHead", _PAYMENT_HEAD, doc="import payment"),
        MessageType("CEB511", "Logistics", "LogisticsHead", _LOGISTICS_HEAD, doc="import waybill"),
        MessageType(
            "CEB621",
            "Inventory",
            "InventoryHead",
            _INVENTORY_HEAD,
            "InventoryList",
            _INVENTORY_LIST,
            "import declaration list",
        ),
        MessageType(
            "CEB303", "Order", "OrderHead", _ORDER_HEAD, "OrderList", _ORDER_LIST, "export order"
        ),
        MessageType("CEB403", "Receipts", None, _RECEIPTS, doc="export receipt of payment"),
        MessageType("CEB505", "Logistics", None, _EXPORT_LOGISTICS, doc="export waybill"),
        MessageType(
            "CEB603",
            "Inventory",
            "InventoryHead",
            _INVENTORY_HEAD,
            "InventoryList",
            _INVENTORY_LIST,
            "export declaration list",
        ),
    )
}


def message_type(code: str) -> MessageType:
    key = str(code).strip().upper()
    if key not in MESSAGE_TYPES:
        raise InvalidValue("type", f"must be one of {', '.join(MESSAGE_TYPES)}", code)
    return MESSAGE_TYPES[key]


def _text(value: Any, field: str) -> str:
    if isinstance(value, bool | float):
        raise InvalidValue(field, "must be a string, integer or exact decimal", value)
    if isinstance(value, str | int | Decimal):
        return str(value)
    raise InvalidValue(field, "must be a string, integer or exact decimal", value)


def _append(
    parent: etree._Element, tag: str, fields: tuple[str, ...], values: Mapping[str, Any], where: str
) -> None:
    element = etree.SubElement(parent, _Q + tag)
    for name in fields:
        value = values.get(name)
        if value is not None:
            etree.SubElement(element, _Q + name).text = _text(value, f"{where}.{name}")


def _check_fields(
    values: Mapping[str, Any], allowed: Iterable[str], where: str, extra: set[str]
) -> None:
    unknown = sorted(set(values) - set(allowed) - extra)
    if unknown:
        raise InvalidValue(f"{where}.{unknown[0]}", "not a field of this CEB message")


def generate(
    code: str,
    records: list[Mapping[str, Any]],
    *,
    guid: str | None = None,
    base_transfer: Mapping[str, Any] | None = None,
) -> bytes:
    """The XML message of ``code`` holding ``records`` (one record element per record)."""
    mtype = message_type(code)
    if not records:
        raise InvalidValue("records", "a message needs at least one record")
    root = etree.Element(_Q + f"{mtype.code}Message", nsmap={"ceb": NS, "xsi": XSI})
    root.set("guid", guid or str(uuid.uuid4()).upper())
    root.set("version", "1.0")
    for i, raw in enumerate(records):
        where = f"records[{i}]"
        if not isinstance(raw, Mapping):
            raise InvalidValue(where, "must be a JSON object")
        values = {_ALIASES.get(k, k): v for k, v in raw.items()}
        _check_fields(values, mtype.head_fields, where, {"lines"} if mtype.list_element else set())
        record = etree.SubElement(root, _Q + mtype.record)
        if mtype.head is None:
            for name in mtype.head_fields:
                if values.get(name) is not None:
                    etree.SubElement(record, _Q + name).text = _text(
                        values[name], f"{where}.{name}"
                    )
        else:
            _append(record, mtype.head, mtype.head_fields, values, where)
        if mtype.list_element:
            lines = values.get("lines") or []
            if not isinstance(lines, list):
                raise InvalidValue(f"{where}.lines", "must be a list")
            for j, line in enumerate(lines):
                if not isinstance(line, Mapping):
                    raise InvalidValue(f"{where}.lines[{j}]", "must be a JSON object")
                _check_fields(line, mtype.list_fields, f"{where}.lines[{j}]", set())
                _append(record, mtype.list_element, mtype.list_fields, line, f"{where}.lines[{j}]")
    transfer = dict(base_transfer or {})
    transfer.setdefault("dxpMode", "DXP")
    _check_fields(transfer, _BASE_TRANSFER, "base_transfer", set())
    _append(root, "BaseTransfer", _BASE_TRANSFER, transfer, "base_transfer")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


@dataclass(frozen=True, slots=True)
class Message:
    code: str
    guid: str
    records: list[dict[str, Any]]
    base_transfer: dict[str, str]


def _fields(element: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        name = etree.QName(child).localname
        out[_ALIASES.get(name, name)] = (child.text or "").strip()
    return out


def parse(data: bytes) -> Message:
    """Parse one CEB message; malformed XML or an unknown message raises ``InvalidValue``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidValue("xml", f"malformed XML: {exc}") from None
    qname = etree.QName(root)
    if qname.namespace != NS:
        raise InvalidValue("xml", f"root element is not in the CEB namespace {NS}", qname.namespace)
    name = qname.localname
    if not (name.startswith("CEB") and name.endswith("Message")):
        raise InvalidValue("xml", "root element is not a CEBxxxMessage", name)
    mtype = message_type(name[: -len("Message")])
    records: list[dict[str, Any]] = []
    base: dict[str, str] = {}
    for child in root:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local == "BaseTransfer":
            base = _fields(child)
        elif local == mtype.record:
            records.append(_record(child, mtype))
    if not records:
        raise InvalidValue("xml", f"{mtype.code} message without a {mtype.record} element")
    return Message(mtype.code, root.get("guid", ""), records, base)


def _record(element: etree._Element, mtype: MessageType) -> dict[str, Any]:
    if mtype.head is None:
        return dict(_fields(element))
    head = element.find(_Q + mtype.head)
    if head is None:
        raise InvalidValue("xml", f"{mtype.record} without {mtype.head}")
    record: dict[str, Any] = dict(_fields(head))
    if mtype.list_element:
        record["lines"] = [_fields(item) for item in element.findall(_Q + mtype.list_element)]
    return record
