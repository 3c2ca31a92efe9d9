"""EPCIS 2.0 JSON-LD for our own flow: the columnar event builder and document helpers.

``build_events`` is the one kernel for capture: from a Polars frame of lifecycle steps it builds
each event's JSON document and its CBV pre-hash string with vectorised string expressions (no
per-event Python), for one event or a million. A property test checks that its pre-hash equals
the generic ``event_hash.prehash`` of the document it wrote, so both paths give one Event Hash ID.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.trace import event_hash
from xborder.trace.event_hash import canonical_time, canonical_value
from xborder.trace.identifiers import normalise
from xborder.trace.json_guard import load_json
from xborder.trace.lifecycle import LIFECYCLE, EventType, Step
from xborder.trace.vocabulary import CBV

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SSCC_DL = r"^https://id\.gs1\.org/00/\d{18}$"
_UNSAFE = r'["\\\x00-\x1f]'  # values are spliced into JSON: forbid what would need escaping
PARTY_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"  # as xborder.domain.parties.Party.id
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

CAPTURE_SCHEMA: dict[str, Any] = {
    "object_key": pl.String,  # canonical Digital Link of the parcel / bag (its SSCC)
    "step": pl.String,  # a lifecycle.Step value
    "event_time": pl.Datetime("us", "UTC"),
    "tz_offset": pl.String,  # "+08:00"
    "party_id": pl.String,  # the capturing party
    "read_point": pl.String,
    "biz_location": pl.String,
    "children": pl.List(pl.String),  # AggregationEvent childEPCs (Digital Links)
    "transactions": pl.List(pl.Struct({"type": pl.String, "id": pl.String})),
}


@dataclass(frozen=True, slots=True)
class BuiltEvents:
    """The kernel's output, row-aligned with its input frame."""

    documents: list[str]
    prehashes: list[str]
    frame: pl.DataFrame  # the input plus event_type, action, biz_step, disposition, time_ms


def sscc_link(sscc: str) -> str:
    """Canonical GS1 Digital Link of an SSCC (18 digits)."""
    if len(sscc) != 18 or not sscc.isdigit():
        raise InvalidValue("sscc", "an SSCC has 18 digits", sscc)
    return f"https://id.gs1.org/00/{sscc}"


def capture_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """A capture frame from dicts (missing optional columns become null)."""
    records = [dict(r) for r in rows]
    for r in records:
        for key in CAPTURE_SCHEMA:
            r.setdefault(key, None)
    return pl.DataFrame(records, schema=CAPTURE_SCHEMA)


def _spec_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "step": [s.step.value for s in LIFECYCLE.values()],
            "event_type": [s.event_type.value for s in LIFECYCLE.values()],
            "action": [s.action.value for s in LIFECYCLE.values()],
            "biz_step": [s.biz_step for s in LIFECYCLE.values()],
            "disposition": [s.disposition for s in LIFECYCLE.values()],
        }
    )


def _check(frame: pl.DataFrame) -> None:
    """Reject what the templates cannot render faithfully, naming the column and the value."""
    missing = [c for c in CAPTURE_SCHEMA if c not in frame.columns]
    if missing:
        raise InvalidValue(missing[0], "column missing from the capture frame")
    for col in ("object_key", "step", "event_time", "tz_offset", "party_id"):
        nulls = frame.get_column(col).null_count()
        if nulls:
            raise InvalidValue(col, f"required, null in {nulls} row(s)")
    bad_step = frame.filter(~pl.col("step").is_in([s.value for s in Step]))
    if bad_step.height:
        raise InvalidValue("step", "unknown lifecycle step", bad_step.item(0, "step"))
    bad_key = frame.filter(~pl.col("object_key").str.contains(SSCC_DL))
    if bad_key.height:
        raise InvalidValue(
            "object_key",
            "must be an SSCC Digital Link https://id.gs1.org/00/<18>",
            bad_key.item(0, "object_key"),
        )
    kids = frame.select(pl.col("children").explode().drop_nulls())
    bad_kids = kids.filter(~pl.col("children").str.contains(SSCC_DL))
    if bad_kids.height:
        raise InvalidValue("children", "must be SSCC Digital Links", bad_kids.item(0, "children"))
    adds = [
        s.step.value
        for s in LIFECYCLE.values()
        if s.event_type == EventType.AGGREGATION and s.action.value == "ADD"
    ]
    no_kids = frame.filter(
        pl.col("step").is_in(adds)
        & (pl.col("children").is_null() | (pl.col("children").list.len() == 0))
    )
    if no_kids.height:
        raise InvalidValue(
            "children",
            "an AggregationEvent ADD needs the parcels it packs",
            no_kids.item(0, "object_key"),
        )
    needs_tx = [s.step.value for s in LIFECYCLE.values() if s.event_type == EventType.TRANSACTION]
    no_tx = frame.filter(
        pl.col("step").is_in(needs_tx)
        & (pl.col("transactions").is_null() | (pl.col("transactions").list.len() == 0))
    )
    if no_tx.height:
        raise InvalidValue(
            "transactions",
            "a TransactionEvent step needs at least one business transaction (e.g. the order)",
            no_tx.item(0, "step"),
        )
    bad_tz = frame.filter(~pl.col("tz_offset").str.contains(r"^[+-](0\d|1[0-4]):[0-5]\d$"))
    if bad_tz.height:
        raise InvalidValue("tz_offset", "must look like +08:00", bad_tz.item(0, "tz_offset"))
    tx = frame.select(pl.col("transactions").explode().struct.unnest()).drop_nulls("type")
    for col, values in (
        ("read_point", frame.get_column("read_point")),
        ("biz_location", frame.get_column("biz_location")),
        ("party_id", frame.get_column("party_id")),
        ("transactions.type", tx.get_column("type") if tx.height else None),
        ("transactions.id", tx.get_column("id") if tx.height else None),
    ):
        if values is not None:
            _check_text(col, values.drop_nulls())


# Values the canonical form could rewrite: EPC/CBV URNs, GS1 CURIEs, Digital Link paths, numbers.
_MAY_CHANGE = (
    r"^(urn:epc|urn:epcglobal|cbv:|gs1:|[+-]?[0-9.]+$|https?://.*/(01|gtin|8006|itip"
    r"|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401"
    r"|ginc|402|gsin|8003|grai|8004|giai)/[0-9]{4})"
)


def _check_text(col: str, values: pl.Series) -> None:
    """Column-wise: non-empty, JSON-safe, and (except party ids) URIs already canonical."""
    bad = values.filter((values.str.len_chars() == 0) | values.str.contains(_UNSAFE))
    if bad.len():
        raise InvalidValue(
            col, "must be non-empty, without quotes, backslashes or control chars", bad.item(0)
        )
    if col == "party_id":
        wrong = values.filter(~values.str.contains(PARTY_ID))
        if wrong.len():
            raise InvalidValue(col, "a party id is 1-64 of a-z, 0-9 and '-'", wrong.item(0))
        return
    no_scheme = values.filter(~values.str.contains(":", literal=True))
    if no_scheme.len():
        raise InvalidValue(col, "must be a URI", no_scheme.item(0))
    for value in values.filter(values.str.contains(_MAY_CHANGE)).unique().to_list():
        canonical = canonical_value(value, {})
        if canonical != value:
            raise InvalidValue(col, f"must be a URI in canonical form ({canonical})", value)


def _bare(col: str, kind: str) -> pl.Expr:
    """JSON-LD compaction: a CBV URI is written as its bare word (the context expands it)."""
    return pl.col(col).str.replace(f"{CBV}{kind}-", "", literal=True)


def _opt(prefix: str, value: pl.Expr, suffix: str = "") -> pl.Expr:
    return (
        pl.when(value.is_not_null())
        .then(pl.concat_str([pl.lit(prefix), value, pl.lit(suffix)]))
        .otherwise(pl.lit(""))
    )


def build_events(frame: pl.DataFrame) -> BuiltEvents:
    """JSON documents and CBV pre-hash strings for a frame of lifecycle steps (see module doc)."""
    _check(frame)
    f = frame.with_columns(pl.col("event_time").dt.truncate("1ms")).join(
        _spec_frame(), on="step", how="left", maintain_order="left"
    )
    time_text = pl.col("event_time").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    is_agg = pl.col("event_type") == EventType.AGGREGATION.value
    kids = pl.col("children").list.sort()
    tx = pl.col("transactions")
    tx_type = pl.element().struct.field("type")
    tx_id = pl.element().struct.field("id")
    has_tx = tx.is_not_null() & (tx.list.len() > 0)
    has_kids = pl.col("children").is_not_null() & (pl.col("children").list.len() > 0)

    prehash = pl.concat_str(
        [
            pl.lit("eventType="),
            pl.col("event_type"),
            pl.lit("eventTime="),
            time_text,
            pl.lit("eventTimeZoneOffset="),
            pl.col("tz_offset"),
            pl.when(is_agg)
            .then(
                pl.concat_str(
                    [
                        pl.lit("parentID="),
                        pl.col("object_key"),
                        pl.when(has_kids)
                        .then(
                            pl.concat_str(
                                [
                                    pl.lit("childEPCs"),
                                    kids.list.eval(
                                        pl.concat_str([pl.lit("epc="), pl.element()])
                                    ).list.join(""),
                                ]
                            )
                        )
                        .otherwise(pl.lit("")),
                    ]
                )
            )
            .otherwise(pl.concat_str([pl.lit("epcListepc="), pl.col("object_key")])),
            pl.lit("action="),
            pl.col("action"),
            pl.lit("bizStep="),
            pl.col("biz_step"),
            pl.lit("disposition="),
            pl.col("disposition"),
            _opt("readPointid=", pl.col("read_point")),
            _opt("bizLocationid=", pl.col("biz_location")),
            pl.when(has_tx)
            .then(
                pl.concat_str(
                    [
                        pl.lit("bizTransactionList"),
                        tx.list.eval(
                            pl.concat_str(
                                [pl.lit("type="), tx_type, pl.lit("bizTransaction="), tx_id]
                            )
                        )
                        .list.sort()
                        .list.join(""),
                    ]
                )
            )
            .otherwise(pl.lit("")),
        ]
    )
    document = pl.concat_str(
        [
            pl.lit('{"type":"'),
            pl.col("event_type"),
            pl.lit('","eventTime":"'),
            time_text,
            pl.lit('","eventTimeZoneOffset":"'),
            pl.col("tz_offset"),
            pl.lit('",'),
            pl.when(is_agg)
            .then(
                pl.concat_str(
                    [
                        pl.lit('"parentID":"'),
                        pl.col("object_key"),
                        pl.lit('",'),
                        pl.when(has_kids)
                        .then(
                            pl.concat_str(
                                [pl.lit('"childEPCs":["'), kids.list.join('","'), pl.lit('"],')]
                            )
                        )
                        .otherwise(pl.lit("")),
                    ]
                )
            )
            .otherwise(
                pl.concat_str([pl.lit('"epcList":["'), pl.col("object_key"), pl.lit('"],')])
            ),
            pl.lit('"action":"'),
            pl.col("action"),
            pl.lit('","bizStep":"'),
            _bare("biz_step", "BizStep"),
            pl.lit('","disposition":"'),
            _bare("disposition", "Disp"),
            pl.lit('"'),
            _opt(',"readPoint":{"id":"', pl.col("read_point"), '"}'),
            _opt(',"bizLocation":{"id":"', pl.col("biz_location"), '"}'),
            pl.when(has_tx)
            .then(
                pl.concat_str(
                    [
                        pl.lit(',"bizTransactionList":['),
                        tx.list.eval(
                            pl.concat_str(
                                [
                                    pl.lit('{"type":"'),
                                    tx_type.str.replace(f"{CBV}BTT-", "", literal=True),
                                    pl.lit('","bizTransaction":"'),
                                    tx_id,
                                    pl.lit('"}'),
                                ]
                            )
                        ).list.join(","),
                        pl.lit("]"),
                    ]
                )
            )
            .otherwise(pl.lit("")),
            pl.lit("}"),
        ]
    )
    out = f.with_columns(
        prehash.alias("_prehash"),
        document.alias("_document"),
        (pl.col("event_time").dt.epoch("ms")).alias("time_ms"),
    )
    return BuiltEvents(
        out.get_column("_document").to_list(),
        out.get_column("_prehash").to_list(),
        out.drop("_prehash", "_document"),
    )


# ---- documents ----------------------------------------------------------------------------------


def document(
    events: Sequence[Mapping[str, Any]],
    created: datetime,
    extra_context: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """An EPCISDocument around events (their own JSON objects, in order), created at
    ``created`` (the caller's clock: the engine never reads the wall clock)."""
    when = created.astimezone(UTC)
    return {
        "@context": [EPCIS_CONTEXT, *[dict(c) for c in extra_context]],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "epcisBody": {"eventList": list(events)},
    }


def parse_json(text: str | bytes) -> Any:
    """Parse an EPCIS JSON document within the limits of ``json_guard`` (size, encoding, depth,
    string length), checked before parsing; ``InvalidValue`` names the place and the reason."""
    return load_json(text)


@dataclass(frozen=True, slots=True)
class EventColumns:
    """The indexed columns of one stored event, derived from its JSON document."""

    event_type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    time_ms: int
    subject: str  # the chain object: parentID, else the first EPC / class, else the hash id


def _full(field: str, value: Any, ns: Mapping[str, str]) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    from xborder.trace import vocabulary

    text = value if ":" in value else vocabulary.expand(field, value)
    return canonical_value(text, ns)


def event_columns(event: Mapping[str, Any], ns: Mapping[str, str], hash_id: str) -> EventColumns:
    """Columns for the store and the query parameters (values canonical, as in the pre-hash)."""
    moment = canonical_time(str(event.get("eventTime", "")))
    parsed = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    time_ms = (parsed - _EPOCH) // timedelta(milliseconds=1)  # exact: no float rounding
    rp, bl = event.get("readPoint"), event.get("bizLocation")
    return EventColumns(
        event_type=str(event.get("type")),
        action=event.get("action"),
        biz_step=_full("bizStep", event.get("bizStep"), ns),
        disposition=_full("disposition", event.get("disposition"), ns),
        read_point=canonical_value(rp["id"], ns) if isinstance(rp, dict) and "id" in rp else None,
        biz_location=canonical_value(bl["id"], ns) if isinstance(bl, dict) and "id" in bl else None,
        time_ms=time_ms,
        subject=subject_of(event, ns) or hash_id,
    )


def epcs_of(event: Mapping[str, Any], ns: Mapping[str, str]) -> list[str]:
    """Canonical EPCs an event names in epcList / childEPCs (what MATCH_epc looks at)."""
    out = []
    for field in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        for epc in event.get(field) or []:
            out.append(canonical_value(epc, ns))
    return out


def subject_of(event: Mapping[str, Any], ns: Mapping[str, str]) -> str | None:
    """The object whose chain an imported event joins: parentID, else the first listed EPC."""
    if event.get("parentID"):
        return canonical_value(event["parentID"], ns)
    epcs = epcs_of(event, ns)
    if epcs:
        return min(epcs)
    for field in ("quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList"):
        for q in event.get(field) or []:
            if isinstance(q, dict) and q.get("epcClass"):
                return canonical_value(q["epcClass"], ns)
    return None


__all__ = [
    "BuiltEvents",
    "EventColumns",
    "build_events",
    "capture_frame",
    "document",
    "event_columns",
    "event_hash",
    "normalise",
    "parse_json",
    "sscc_link",
]
