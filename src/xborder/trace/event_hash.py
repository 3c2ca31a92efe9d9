"""The GS1 EPCIS Event Hash ID (CBV 2.0 section 8.9; CBV 2.1 rules): canonical pre-hash + SHA-256.

Two parties that serialise one event differently (URN vs Digital Link, field order, time zone,
number format) must get the same id, so the pre-hash string is built from a canonical form:
fixed property order, sorted lists, UTC timestamps at millisecond precision (half-up), numbers
normalised, GS1 keys as canonical Digital Link URIs, bare CBV words expanded, user extensions
as ``{namespace}name`` in a sorted trailing block (CBV 2.0) or inline in their field (CBV 2.1).
Checked against every vector of the reference implementation
(RalphTro/epcis-event-hash-generator, PR #123 test suite, CBV 2.0 and 2.1).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from xborder.trace import vocabulary
from xborder.trace.identifiers import normalise

CbvVersion = Literal["2.0", "2.1"]
CBV_VERSIONS: tuple[CbvVersion, ...] = ("2.0", "2.1")

# Well-known prefixes (the EPCIS context; gs1 forced to ref.gs1.org as the reference does).
_WELL_KNOWN = {
    "gs1": vocabulary.GS1_VOC,
    "cbv": vocabulary.CBV,
    "epcis": "https://ref.gs1.org/epcis/",
    # CBV master-data attributes: without a trailing colon, as the reference implementation
    # writes them since its PR #123 (``{urn:epcglobal:cbv:mda}countryOfExport``); a document
    # that declares ``cbvmda`` itself is hashed with its own declaration, as given.
    "cbvmda": "urn:epcglobal:cbv:mda",
}
_IGNORED_KEYS = frozenset({"rdfs:comment", "comment", "#text", "@context"})
_NOT_HASHED = frozenset({"recordTime", "eventID", "type", "errorDeclaration", "certificationInfo"})
_OLD_CBV = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?"
)

Namespaces = Mapping[str, str]


def namespaces_of(
    document: Mapping[str, Any], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Prefix -> namespace URI from a document's (or an event's own) ``@context``, over ``base``
    (default: the EPCIS well-known prefixes)."""
    ns = dict(base if base is not None else _WELL_KNOWN)
    ctx = document.get("@context")
    for entry in ctx if isinstance(ctx, list) else [ctx]:
        if isinstance(entry, dict):
            for key, val in entry.items():
                if isinstance(val, str):
                    ns[key] = val
    ns["gs1"] = vocabulary.GS1_VOC
    return ns


def canonical_time(value: str) -> str:
    """UTC at millisecond precision, rounded half-up (CBV 2.0 rule 9)."""
    m = _TIME.fullmatch(value.strip())
    if m is None:
        return value.strip()
    year, month, day, hour, minute, second, frac, zone = m.groups()
    tz = UTC
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
    )
    millis = (Decimal("0." + frac) * 1000 if frac else Decimal(0)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    moment = moment.astimezone(UTC) + timedelta(milliseconds=int(millis))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _numeric(text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    if number == number.to_integral_value():
        return str(number.to_integral_value())
    return format(number.normalize(), "f")


def _expand_curie(text: str, ns: Namespaces) -> str:
    prefix, sep, rest = text.partition(":")
    if sep and prefix in ns:
        uri = ns[prefix]
        if uri.startswith("https://ref.gs1.org") or uri.startswith("https://gs1.org"):
            return uri + rest
    return text


def canonical_value(value: Any, ns: Namespaces) -> str:
    """Canonical text of a scalar: CBV URNs to web URIs, numbers normalised, GS1 keys as DL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _expand_curie(str(value), ns).strip()
    for old, new in _OLD_CBV:
        text = text.replace(old, new)
    text = _numeric(text)
    return normalise(text) or text


def _key(name: str, ns: Namespaces) -> str:
    prefix, sep, rest = name.partition(":")
    if sep and prefix in ns:
        return "{" + ns[prefix] + "}" + rest
    return name


def _is_extension(name: str) -> bool:
    return ":" in name


def _generic(key: str, value: Any, ns: Namespaces) -> list[str]:
    """Pre-hash strings of an arbitrary (extension) element; lists give one string per item."""
    if isinstance(value, list):
        return [s for item in value for s in _generic(key, item, ns)]
    name = _key(key, ns)
    if isinstance(value, dict):
        return [name + _generic_children(value, ns)]
    text = canonical_value(value, ns)
    return [name + ("=" + text if text else "")]


def _generic_children(obj: Mapping[str, Any], ns: Namespaces) -> str:
    parts = [s for k, v in obj.items() if k not in _IGNORED_KEYS for s in _generic(k, v, ns)]
    return "".join(sorted(parts))


# ---- the ordered standard part ------------------------------------------------------------------

Render = Callable[[Any, "_Ctx"], str]


class _Ctx:
    """Per-event state: namespaces, CBV version and the CBV 2.0 trailing field extensions."""

    def __init__(self, ns: Namespaces, version: CbvVersion) -> None:
        self.ns = ns
        self.version = version


def _scalar(field: str, vocab: str | None = None, time: bool = False) -> Callable[[Any, _Ctx], str]:
    def render(value: Any, ctx: _Ctx) -> str:
        if isinstance(value, dict | list):
            return ""
        text = str(value).strip() if not isinstance(value, bool) else value
        if time:
            text = canonical_time(str(text))
        else:
            if vocab and isinstance(text, str) and ":" not in text:
                text = vocabulary.expand(vocab, text)
            text = canonical_value(text, ctx.ns)
        return f"{field}={text}" if text else ""

    return render


def _object(field: str, order: Sequence[tuple[str, Render]], path: tuple[str, ...]) -> Render:
    """A structured field: its standard children in order, then (CBV 2.1) its extensions."""

    def render(value: Any, ctx: _Ctx) -> str:
        if not isinstance(value, dict):
            return ""
        body = _ordered(value, order, ctx)
        if ctx.version == "2.1":
            ext = {k: v for k, v in value.items() if _is_extension(k) and k not in _IGNORED_KEYS}
            body += _generic_children(ext, ctx.ns)
        return field + body if body else ""

    return render


def _repeat(inner: Render) -> Render:
    """A field whose value may be a list: each item rendered, the strings sorted (rule 17)."""

    def render(value: Any, ctx: _Ctx) -> str:
        items = value if isinstance(value, list) else [value]
        return "".join(sorted(s for s in (inner(v, ctx) for v in items) if s))

    return render


def _list(field: str, inner: Render, display: bool = True) -> Render:
    def render(value: Any, ctx: _Ctx) -> str:
        body = _repeat(inner)(value, ctx)
        return (field if display else "") + body if body else ""

    return render


def _ordered(obj: Mapping[str, Any], order: Sequence[tuple[str, Render]], ctx: _Ctx) -> str:
    return "".join(render(obj[name], ctx) for name, render in order if name in obj)


_QUANTITY = _object(
    "quantityElement",
    [("epcClass", _scalar("epcClass")), ("quantity", _scalar("quantity")), ("uom", _scalar("uom"))],
    (),
)


def _typed(field: str, member: str, vocab: str) -> Render:
    return _object(member, [("type", _scalar("type", vocab)), (member, _scalar(member))], ())


def _sdt_item(member: str, vocab: str) -> Render:
    inner = _typed("", member, vocab)

    def render(value: Any, ctx: _Ctx) -> str:
        s = inner(value, ctx)
        return s[len(member) :] if s else ""  # list items carry no element name of their own

    return render


_SENSOR_METADATA = [
    (n, _scalar(n, time="time" in n.lower()))
    for n in (
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    )
]
_VOCAB_REPORT_FIELDS = ("type", "exception", "component")
_SENSOR_REPORT = [
    (
        n,
        _scalar(
            n,
            vocab=f"sensorReport.{n}" if n in _VOCAB_REPORT_FIELDS else None,
            time="time" in n.lower(),
        ),
    )
    for n in (
        "type",
        "exception",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "time",
        "microorganism",
        "chemicalSubstance",
        "value",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uriValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "uom",
        "coordinateReferenceSystem",
    )
]
_SENSOR_ELEMENT: list[tuple[str, Render]] = [
    ("sensorMetadata", _object("sensorMetadata", _SENSOR_METADATA, ())),
    ("sensorReport", _repeat(_object("sensorReport", _SENSOR_REPORT, ()))),
]


def _sensor_list(value: Any, ctx: _Ctx) -> str:
    body = _repeat(_object("sensorElement", _SENSOR_ELEMENT, ()))(value, ctx)
    if not body:
        return ""
    return ("sensorElementList" if ctx.version == "2.1" else "") + body


def _persistent(value: Any, ctx: _Ctx) -> str:
    if not isinstance(value, dict):
        return ""
    body = "".join(
        _list("", _scalar(k, "persistentDisposition"), display=False)(value[k], ctx)
        for k in ("set", "unset")
        if k in value
    )
    return "persistentDisposition" + body if body else ""


def _epcs(field: str) -> Render:
    return _list(field, _scalar("epc"))


PROPERTY_ORDER: list[tuple[str, Render]] = [
    ("eventTime", _scalar("eventTime", time=True)),
    ("eventTimeZoneOffset", _scalar("eventTimeZoneOffset")),
    ("epcList", _epcs("epcList")),
    ("parentID", _scalar("parentID")),
    ("inputEPCList", _epcs("inputEPCList")),
    ("childEPCs", _epcs("childEPCs")),
    ("quantityList", _list("quantityList", _QUANTITY)),
    ("childQuantityList", _list("childQuantityList", _QUANTITY)),
    ("inputQuantityList", _list("inputQuantityList", _QUANTITY)),
    ("outputEPCList", _epcs("outputEPCList")),
    ("outputQuantityList", _list("outputQuantityList", _QUANTITY)),
    ("action", _scalar("action")),
    ("transformationID", _scalar("transformationID")),
    ("bizStep", _scalar("bizStep", "bizStep")),
    ("disposition", _scalar("disposition", "disposition")),
    ("persistentDisposition", _persistent),
    ("readPoint", _object("readPoint", [("id", _scalar("id"))], ())),
    ("bizLocation", _object("bizLocation", [("id", _scalar("id"))], ())),
    (
        "bizTransactionList",
        _list("bizTransactionList", _sdt_item("bizTransaction", "bizTransactionList")),
    ),
    ("sourceList", _list("sourceList", _sdt_item("source", "sourceList"))),
    ("destinationList", _list("destinationList", _sdt_item("destination", "destinationList"))),
    ("sensorElementList", _sensor_list),
]
_STANDARD = frozenset(name for name, _ in PROPERTY_ORDER)

# Standard fields that can carry user extensions, and their standard sub-structure (CBV 2.0
# moves those extensions to the end, prefixed with the path of field names).
_EXT_TREE: dict[str, dict[str, Any]] = {
    "readPoint": {},
    "bizLocation": {},
    "sensorElementList": {"sensorMetadata": {}, "sensorReport": {}},
    "quantityList": {},
    "childQuantityList": {},
    "inputQuantityList": {},
    "outputQuantityList": {},
    "bizTransactionList": {},
    "sourceList": {},
    "destinationList": {},
    "persistentDisposition": {},
}
_ITEM_NAME = {
    "sensorElementList": "sensorElement",
    "quantityList": "quantityElement",
    "childQuantityList": "quantityElement",
    "inputQuantityList": "quantityElement",
    "outputQuantityList": "quantityElement",
    "bizTransactionList": "",
    "sourceList": "",
    "destinationList": "",
}


def _field_ext(name: str, value: Any, sub: Mapping[str, Any], ns: Namespaces) -> str:
    """CBV 2.0: the user extensions inside one standard field, prefixed by its name path."""
    items = value if isinstance(value, list) else [value]
    parts: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        inner = "".join(_field_ext(k, item[k], sub[k], ns) for k in sub if k in item)
        direct = {k: v for k, v in item.items() if _is_extension(k) and k not in _IGNORED_KEYS}
        inner += _generic_children(direct, ns)
        if inner:
            parts.append(inner)
    if not parts:
        return ""
    if name in _ITEM_NAME:
        item_name = _ITEM_NAME[name]
        body = "".join(item_name + p for p in parts)
        return ("" if name == "sensorElementList" else name) + body
    return name + "".join(parts)


def prehash(
    event: Mapping[str, Any], ns: Namespaces | None = None, version: CbvVersion = "2.0"
) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON(-LD) event."""
    names: Namespaces = ns if ns is not None else dict(_WELL_KNOWN)
    ctx = _Ctx(names, version)
    standard = _ordered(event, PROPERTY_ORDER, ctx)
    rest = {
        k: v
        for k, v in event.items()
        if k not in _STANDARD and k not in _NOT_HASHED and k not in _IGNORED_KEYS
    }
    if version == "2.1":
        trailing = _generic_children(rest, names)
    else:
        ilmd = "".join(_generic("ilmd", rest.pop("ilmd"), names)) if "ilmd" in rest else ""
        fields = "".join(
            _field_ext(name, event[name], _EXT_TREE[name], names)
            for name, _ in PROPERTY_ORDER
            if name in _EXT_TREE and name in event
        )
        trailing = ilmd + fields + _generic_children(rest, names)
    return "eventType=" + str(event.get("type", "")) + standard + trailing


def event_hash_id(pre_hash: str, version: CbvVersion = "2.0") -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920 named information URI) of a pre-hash string."""
    digest = hashlib.sha256(pre_hash.encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV{version}"


def hash_event(
    event: Mapping[str, Any], ns: Namespaces | None = None, version: CbvVersion = "2.0"
) -> str:
    return event_hash_id(prehash(event, ns, version), version)


def document_events(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of an EPCISDocument or EPCISQueryDocument (or a single-event body)."""
    body = document.get("epcisBody", {})
    if "eventList" in body:
        events = body["eventList"]
    elif "queryResults" in body:
        events = body["queryResults"].get("resultsBody", {}).get("eventList", [])
    elif "event" in body:
        events = [body["event"]]
    else:
        events = []
    return list(events)


def hash_document(
    document: Mapping[str, Any], version: CbvVersion = "2.0"
) -> list[tuple[str, str]]:
    """(event hash id, pre-hash) for every event of a document, in document order."""
    ns = namespaces_of(document)
    out = []
    for event in document_events(document):
        pre = prehash(event, namespaces_of(event, ns) if "@context" in event else ns, version)
        out.append((event_hash_id(pre, version), pre))
    return out


def hash_many(
    events: Iterable[Mapping[str, Any]], ns: Namespaces | None = None, version: CbvVersion = "2.0"
) -> list[str]:
    return [hash_event(e, ns, version) for e in events]
