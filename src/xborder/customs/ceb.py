"""China CBEC customs messages (GACC unified message standard, 202205 schemas): write and read XML.

Written: CEB311 order, CEB411 payment, CEB511 waybill, CEB621 import list; CEB303 order, CEB403
receipt of payment, CEB505 waybill, CEB603 export list. Read: those and the receipts customs
sends back (CEB312, 412, 512, 622; CEB304, 404, 506, 604). Namespace
``http://www.chinaport.gov.cn/ceb``. A record is a dict of the head's fields (strings, CEB field
names, including the standard's own spelling ``acturalPaid``) plus ``lines`` for the goods of
orders and lists; the same records are accepted as JSON lines.

Why the checks live here: customs refuses a message that does not match its schema, and says so
in a receipt hours later. So a record is checked against the layout (``ceb_layouts``) before
anything is written: every field the schema requires is there (the head's guid, appType, appTime,
appStatus, orderType, ieFlag and declTime are filled when absent), lengths, decimals and integers
fit, at least one goods line, and the enterprise's BaseTransfer comes from configuration. The
result is the unsigned body; ``ceb_sign`` adds the enveloped ``ds:Signature``.

XML from outside is untrusted: a DOCTYPE (and so any entity) is refused, as are documents over
``MAX_MESSAGE_BYTES`` or nested deeper than a CEB message can be.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from xborder.customs.ceb_layouts import MESSAGE_TYPES, Field, MessageType
from xborder.customs.enterprise import Enterprise
from xborder.domain.errors import InvalidValue

NS = "http://www.chinaport.gov.cn/ceb"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_Q = f"{{{NS}}}"
CHINA_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")  # appTime/declTime are Beijing time
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # 100 records of 99 lines are well under 4 MB
MAX_DEPTH = 12  # message / record / head / field; ds:Signature / KeyInfo / X509Data / ... is 6
_ALIASES = {"consingee": "consignee"}  # a spelling found in some CEB511 implementations
_XML_BAD = {c for c in range(32) if c not in (9, 10, 13)} | {0xFFFE, 0xFFFF}

__all__ = [
    "DS",
    "MESSAGE_TYPES",
    "NS",
    "Message",
    "MessageType",
    "generate",
    "message_type",
    "parse",
    "safe_root",
]


def message_type(code: str, *, written: bool = False) -> MessageType:
    key = str(code).strip().upper()
    mtype = MESSAGE_TYPES.get(key)
    if mtype is None or (written and mtype.is_receipt):
        kinds = [c for c, m in MESSAGE_TYPES.items() if not (written and m.is_receipt)]
        raise InvalidValue("type", f"must be one of {', '.join(kinds)}", code)
    return mtype


# --- writing ------------------------------------------------------------------------------------
def _plain(value: Any, where: str) -> str:
    if isinstance(value, bool | float):
        raise InvalidValue(where, "must be a string, integer or exact decimal", value)
    if not isinstance(value, str | int | Decimal):
        raise InvalidValue(where, "must be a string, integer or exact decimal", value)
    text = str(value)
    bad = next((c for c in text if ord(c) in _XML_BAD or 0xD800 <= ord(c) <= 0xDFFF), None)
    if bad is not None:
        raise InvalidValue(where, f"contains a character XML cannot carry (U+{ord(bad):04X})")
    return text


def _decimal(text: str, where: str) -> str:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(where, "not a decimal number", text) from None
    if not amount.is_finite():
        raise InvalidValue(where, "must be a finite decimal", text)
    _, digits, exponent = amount.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite
    if -exponent > 5:
        raise InvalidValue(where, "has more than 5 decimals (the schema's fractionDigits)", text)
    if len(digits) + max(exponent, 0) > 19:
        raise InvalidValue(where, "has more than 19 digits (the schema's totalDigits)", text)
    return format(amount, "f")


def _value(field: Field, value: Any, where: str) -> str:
    text = _plain(value, where).strip()
    if field.kind == "d":
        return _decimal(text, where)
    if field.kind == "i":
        if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > field.max_len:
            raise InvalidValue(where, f"must be an integer of at most {field.max_len} digits", text)
        return str(int(text))
    low = max(field.min_len, 1 if field.required else 0)
    if not low <= len(text) <= field.max_len:
        size = f"{low}" if low == field.max_len else f"{low} to {field.max_len}"
        raise InvalidValue(where, f"must be {size} characters (the schema's length)", text)
    return text


def _fill(element: etree._Element, fields: tuple[Field, ...], values: Mapping[str, Any], where: str,
          schema: str) -> None:  # fmt: skip
    unknown = sorted(set(values) - {f.name for f in fields})
    if unknown:
        raise InvalidValue(f"{where}.{unknown[0]}", "not a field of this CEB message")
    for field in fields:
        value = values.get(field.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if field.required:
                raise InvalidValue(f"{where}.{field.name}", f"is required by the {schema} schema")
            continue
        text = _value(field, value, f"{where}.{field.name}")
        etree.SubElement(element, _Q + field.name).text = text


def _defaults(mtype: MessageType, guid: str, now: datetime | None) -> dict[str, str]:
    """Head fields the platform fills when a record leaves them out (times only given ``now``)."""
    names = set(mtype.names())
    out = {"guid": guid, "appType": "1", "appStatus": "2"}
    if now is not None:
        local = now.astimezone(CHINA_TIME)
        out["appTime"] = local.strftime("%Y%m%d%H%M%S")
        if mtype.code == "CEB621":
            out["declTime"] = local.strftime("%Y%m%d")
    if "orderType" in names:
        out["orderType"] = "E" if mtype.schema == "export" else "I"
    if "ieFlag" in names:
        out["ieFlag"] = "E" if mtype.schema == "export" else "I"
    return {k: v for k, v in out.items() if k in names}


def _record_guid(root_guid: str, index: int) -> str:
    if index == 0:
        return root_guid
    return str(uuid.uuid5(uuid.UUID(root_guid), str(index))).upper()


def generate(
    code: str,
    records: list[Mapping[str, Any]],
    *,
    enterprise: Enterprise,
    now: datetime | None,
    guid: str | None = None,
) -> bytes:
    """The unsigned XML message of ``code`` holding ``records`` (one record element each).

    ``now`` (aware) dates the heads' appTime (and CEB621's declTime) in Beijing time (without
    it the records carry their own); ``guid``
    is the message's (default: random); the first record's head shares it, later ones derive
    theirs from it. Every bad value raises ``InvalidValue`` naming the record and field.
    """
    mtype = message_type(code, written=True)
    if not isinstance(records, list) or not records:
        raise InvalidValue("records", "a message needs at least one record")
    if len(records) > mtype.max_records:
        raise InvalidValue("records", f"at most {mtype.max_records} in one {mtype.code} message")
    root_guid = (guid or str(uuid.uuid4())).upper()
    try:
        uuid.UUID(root_guid)
    except ValueError:
        raise InvalidValue("guid", "must be a UUID (36 characters)", guid) from None
    root = etree.Element(_Q + f"{mtype.code}Message", nsmap={"ceb": NS})
    root.set("guid", root_guid)
    root.set("version", "1.0")
    for i, raw in enumerate(records):
        _record(
            root, mtype, raw, f"records[{i}]", _defaults(mtype, _record_guid(root_guid, i), now)
        )
    transfer = etree.SubElement(root, _Q + "BaseTransfer")
    for name, value in enterprise.base_transfer().items():
        etree.SubElement(transfer, _Q + name).text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _record(
    root: etree._Element, mtype: MessageType, raw: Any, where: str, defaults: dict[str, str]
) -> None:
    if not isinstance(raw, Mapping):
        raise InvalidValue(where, "must be a JSON object")
    values = {_ALIASES.get(str(k), str(k)): v for k, v in raw.items()}
    lines = values.pop("lines", None) if mtype.list_element else None
    for name, value in defaults.items():
        if values.get(name) in (None, ""):
            values[name] = value
    if mtype.code == "CEB621" and not values.get("copNo") and len(str(values.get("orderNo"))) <= 20:
        values["copNo"] = values.get("orderNo")  # receipts (CEB622) name the list by copNo
    record = etree.SubElement(root, _Q + mtype.record)
    head = record if mtype.head is None else etree.SubElement(record, _Q + mtype.head)
    _fill(head, mtype.head_fields, values, where, mtype.schema)
    if mtype.list_element is None:
        return
    if not isinstance(lines, list) or not lines:
        raise InvalidValue(f"{where}.lines", f"a {mtype.code} record needs at least one goods line")
    if len(lines) > mtype.max_lines:
        raise InvalidValue(f"{where}.lines", f"at most {mtype.max_lines} goods lines per record")
    for j, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise InvalidValue(f"{where}.lines[{j}]", "must be a JSON object")
        item = etree.SubElement(record, _Q + mtype.list_element)
        _fill(item, mtype.list_fields, line, f"{where}.lines[{j}]", mtype.schema)


# --- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Message:
    code: str
    guid: str
    records: list[dict[str, Any]]
    base_transfer: dict[str, str]
    signed: bool = False


def safe_root(data: bytes) -> etree._Element:
    """The root of an untrusted XML document: no DOCTYPE (so no entity, internal or external),
    no network, no DTD, bounded size and depth; each refusal raises ``InvalidValue`` naming
    where and why."""
    if not isinstance(data, bytes):
        raise InvalidValue("xml", "must be bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidValue("xml", f"larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:4096]:
            reason = "a DOCTYPE is not allowed (DTDs and entities are refused)"
            raise InvalidValue("xml", reason) from None
        line, column = exc.position
        raise InvalidValue(
            f"xml line {line}, column {column}", f"malformed XML: {exc.msg}"
        ) from None
    except ValueError as exc:  # e.g. a string with an encoding declaration
        raise InvalidValue("xml", f"malformed XML: {exc}") from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise InvalidValue("xml line 1", "a DOCTYPE is not allowed (DTDs and entities are refused)")
    for element in root.iter():
        if not isinstance(element.tag, str):  # an entity reference left unresolved
            raise InvalidValue(f"xml line {element.sourceline}", "entity references are refused")
        if element.sourceline is not None and _depth(element) > MAX_DEPTH:
            raise InvalidValue(f"xml line {element.sourceline}", f"nested deeper than {MAX_DEPTH}")
    return root


def _depth(element: etree._Element) -> int:
    depth = 0
    parent = element.getparent()
    while parent is not None and depth <= MAX_DEPTH:
        depth += 1
        parent = parent.getparent()
    return depth


def _fields(element: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        out[_ALIASES.get(name, name)] = (child.text or "").strip()
    return out


def parse(data: bytes) -> Message:
    """Parse one CEB message (written by anyone to the schemas); untrusted, malformed XML or an
    unknown message raises ``InvalidValue``."""
    root = safe_root(data)
    qname = etree.QName(root)
    if qname.namespace != NS:
        raise InvalidValue("xml", f"root element is not in the CEB namespace {NS}", qname.namespace)
    name = qname.localname
    if not (name.startswith("CEB") and name.endswith("Message")):
        raise InvalidValue("xml", "root element is not a CEBxxxMessage", name)
    mtype = message_type(name[: -len("Message")])
    records: list[dict[str, Any]] = []
    base: dict[str, str] = {}
    signed = False
    for child in root:
        qn = etree.QName(child)
        if qn.namespace == DS and qn.localname == "Signature":
            signed = True
        elif qn.localname == "BaseTransfer":
            base = _fields(child)
        elif qn.localname == mtype.record:
            records.append(_read_record(child, mtype))
    if not records:
        raise InvalidValue("xml", f"{mtype.code} message without a {mtype.record} element")
    return Message(mtype.code, root.get("guid", ""), records, base, signed)


def _read_record(element: etree._Element, mtype: MessageType) -> dict[str, Any]:
    if mtype.head is None:
        return dict(_fields(element))
    head = element.find(_Q + mtype.head)
    if head is None:
        raise InvalidValue(f"xml line {element.sourceline}", f"{mtype.record} without {mtype.head}")
    record: dict[str, Any] = dict(_fields(head))
    if mtype.list_element:
        record["lines"] = [_fields(item) for item in element.findall(_Q + mtype.list_element)]
    return record
