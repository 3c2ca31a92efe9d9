"""Verifying what the ledger's reads rely on besides the chains: the query columns of each event,
the object registry and the container memberships.

``trace show``, ``trace query``, exception detection and loss compensation read the columns of
``trace_events`` (type, action, bizStep, disposition, readPoint, bizLocation, time, party) and
the memberships, not the hashed documents. So verify recomputes every one of them from what is
hashed and signed, and reports the event and the column that differ:
- the columns and the event's object are derived from its document, set-wise: the documents our
  own capture kernel writes have one fixed layout, which one regular expression (Polars, in
  Rust) takes apart for a whole chunk at once; each distinct URI is canonicalised once. Any other
  document (imports), and any row whose stored columns differ, is re-derived exactly in Python
  (``epcis.event_columns``), so a mismatch reported is a real one;
- the party is the signed batch's party;
- memberships are replayed from the AggregationEvents in ledger order (ADD opens, DELETE
  closes), exactly as capture and import record them;
- the registry (``trace_objects``) must hash to the registry's last signed LtHash state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from xborder.trace import chain as chains
from xborder.trace.epcis import event_columns, subject_of
from xborder.trace.event_hash import canonical_value, namespaces_of
from xborder.trace.lifecycle import EventType
from xborder.trace.vocabulary import expand

# The stored query columns, in stream order after (id, object_id, seq, batch_id, party_id).
QUERY_COLUMNS = (
    "event_type", "action", "biz_step", "disposition", "read_point", "biz_location",
    "event_time_ms",
)  # fmt: skip
_V = r'[^"\\\x00-\x1f]*'  # a JSON string body without escapes (the kernel writes none)
_TX = r'\{"type":"' + _V + r'","bizTransaction":"' + _V + r'"\}'
# The exact layout of ``epcis.build_events`` documents: a match has exactly these keys, once each.
KERNEL = (
    r'^\{"type":"(?P<type>' + _V + r')","eventTime":"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d'
    r'\.\d{3}Z)","eventTimeZoneOffset":"' + _V + r'",'
    r'(?:"parentID":"(?P<parent>'
    + _V
    + r')",(?:"childEPCs":\[(?P<kids>"'
    + _V
    + r'"(?:,"'
    + _V
    + r'")*)\],)?|"epcList":\["(?P<epc>'
    + _V
    + r')"\],)'
    r'"action":"(?P<action>' + _V + r')","bizStep":"(?P<step>' + _V + r')","disposition":"'
    r"(?P<disp>" + _V + r')"(?:,"readPoint":\{"id":"(?P<rp>' + _V + r')"\})?'
    r'(?:,"bizLocation":\{"id":"(?P<bl>' + _V + r')"\})?'
    r'(?:,"bizTransactionList":\[' + _TX + r"(?:," + _TX + r")*\])?\}$"
)
# each field of a kernel document (exact once ``KERNEL`` matched: every key occurs once and no
# value holds a quote)
_FIELDS = (
    ("type", r'^\{"type":"([^"]*)"'),
    ("time", r'"eventTime":"([^"]*)"'),
    ("parent", r'"parentID":"([^"]*)"'),
    ("kids", r'"childEPCs":\[([^\]]*)\]'),
    ("epc", r'"epcList":\["([^"]*)"'),
    ("action", r'"action":"([^"]*)"'),
    ("step", r'"bizStep":"([^"]*)"'),
    ("disp", r'"disposition":"([^"]*)"'),
    ("rp", r'"readPoint":\{"id":"([^"]*)"'),
    ("bl", r'"bizLocation":\{"id":"([^"]*)"'),
)
# URIs that ``canonical_value`` provably leaves as they are (checked by a property test)
_CANONICAL_DL = re.compile(r"^https://id\.gs1\.org/(00/[0-9]{18}|414/[0-9]{13})$")
_AGGREGATION = EventType.AGGREGATION.value
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Row ``index`` of a chunk: ``column`` differs from what its document / batch says."""

    index: int
    column: str


@dataclass
class Aggregation:
    """An AggregationEvent ADD/DELETE, as its document says (children as canonical keys)."""

    event_id: int
    object_id: int
    action: str
    children: list[str]


@dataclass
class ColumnCheck:
    """Recomputes each chunk's query columns and object from the documents (see module doc);
    ``keys``: object id -> key (the registry, itself checked against its signed state)."""

    keys: Mapping[int, str]
    aggregations: list[Aggregation] = field(default_factory=list)
    _canonical: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def _value(self, field_name: str, value: str) -> str | None:
        """The canonical stored form of a bizStep / disposition / URI (cached per value)."""
        got = self._canonical.get((field_name, value), "")
        if got != "":
            return got
        if field_name == "uri":
            out: str | None = value if _CANONICAL_DL.match(value) else canonical_value(value, {})
        else:
            text = value if ":" in value else expand(field_name, value)
            out = canonical_value(text, namespaces_of({}))
        self._canonical[(field_name, value)] = out
        return out

    def _mapped(self, column: pl.Series, field_name: str) -> pl.Series:
        """``column`` canonicalised: Digital Links already canonical stay, every other distinct
        value goes through ``_value`` once."""
        todo = column.filter(~column.str.contains(_CANONICAL_DL.pattern)).drop_nulls().unique()
        if todo.len() == 0:
            return column
        values = todo.to_list()
        mapping = {v: self._value(field_name, v) for v in values}
        return column.replace(mapping)

    def check(
        self,
        ids: Sequence[int],
        object_ids: Sequence[int],
        stored: Sequence[Sequence[Any]],
        docs: Sequence[bytes],
    ) -> list[Mismatch]:
        """Mismatches of one chunk (``stored``: one tuple per ``QUERY_COLUMNS`` column)."""
        text = pl.Series("doc", docs, dtype=pl.Binary).cast(pl.String, strict=False)
        frame = pl.DataFrame({"doc": text}).select(
            pl.col("doc").str.contains(KERNEL).fill_null(False).alias("kernel"),
            *[pl.col("doc").str.extract(pattern, 1).alias(name) for name, pattern in _FIELDS],
        )
        kernel = frame.get_column("kernel")
        subject = frame.select(pl.coalesce("parent", "epc")).to_series()
        expected = {
            "event_type": frame.get_column("type"),
            "action": frame.get_column("action"),
            "biz_step": self._mapped(frame.get_column("step"), "bizStep"),
            "disposition": self._mapped(frame.get_column("disp"), "disposition"),
            "read_point": self._mapped(frame.get_column("rp"), "uri"),
            "biz_location": self._mapped(frame.get_column("bl"), "uri"),
            "event_time_ms": frame.get_column("time")
            .str.strptime(pl.Datetime("ms", "UTC"), _TIME_FORMAT, strict=False)
            .dt.epoch("ms"),
            "object_id": self._mapped(subject, "uri"),
        }
        keys = self.keys
        have = {
            name: pl.Series(name, list(col))
            for name, col in zip(QUERY_COLUMNS, stored, strict=True)
        }
        have["object_id"] = pl.Series("object_id", [keys.get(o) for o in object_ids], pl.String)
        wrong = {
            name: (~have[name].eq_missing(expected[name].cast(have[name].dtype, strict=False)))
            & kernel
            for name in expected
        }
        out = [
            Mismatch(i, name) for name, bad in wrong.items() if bad.any() for i in bad.arg_true()
        ]
        for i in (~kernel).arg_true().to_list():
            out.extend(self._python_row(i, ids[i], object_ids[i], [c[i] for c in stored], docs[i]))
        aggregated = (kernel & (frame.get_column("type") == _AGGREGATION)).fill_null(False)
        if aggregated.any():
            actions, kids = frame.get_column("action"), frame.get_column("kids")
            for i in aggregated.arg_true().to_list():
                action = actions[i]
                if action in ("ADD", "DELETE"):
                    children = kids[i][1:-1].split('","') if kids[i] else []
                    self.aggregations.append(Aggregation(ids[i], object_ids[i], action, children))
        return out

    def _python_row(
        self, index: int, event_id: int, object_id: int, have: list[Any], doc: bytes
    ) -> list[Mismatch]:
        """Exactly as import derived them (any layout, the document's own namespaces)."""
        try:
            event = json.loads(doc)
            ns = namespaces_of(event)
            c = event_columns(event, ns, "")
            subject = subject_of(event, ns)
        except (ValueError, TypeError, KeyError, AttributeError):
            return [Mismatch(index, "document")]
        want = (c.event_type, c.action, c.biz_step, c.disposition, c.read_point, c.biz_location,
                c.time_ms)  # fmt: skip
        out = [
            Mismatch(index, name)
            for name, h, w in zip(QUERY_COLUMNS, have, want, strict=True)
            if h != w
        ]
        # an event naming no object is chained under its own Event Hash ID (import)
        key = self.keys.get(object_id)
        if subject is not None and key != subject:
            out.append(Mismatch(index, "object_id"))
        if c.event_type == _AGGREGATION and c.action in ("ADD", "DELETE"):
            kids = [canonical_value(k, ns) for k in event.get("childEPCs") or []]
            self.aggregations.append(Aggregation(event_id, object_id, c.action, kids))
        return out


# ---- memberships ---------------------------------------------------------------------------------

Membership = tuple[int, int, int]  # container, member, added event


def replay_memberships(
    aggregations: Iterable[Aggregation], ids_by_key: Mapping[str, int]
) -> dict[Membership, int | None]:
    """The memberships the AggregationEvents imply, in ledger order: ADD opens one per
    registered child, DELETE closes the listed children's (all of them when it lists none)."""
    rows: dict[Membership, int | None] = {}
    open_rows: dict[int, dict[Membership, None]] = {}
    for agg in sorted(aggregations, key=lambda a: a.event_id):
        members = [ids_by_key[k] for k in agg.children if k in ids_by_key]
        current = open_rows.setdefault(agg.object_id, {})
        if agg.action == "ADD":
            for m in members:
                row = (agg.object_id, m, agg.event_id)
                rows[row] = None
                current[row] = None
        else:
            wanted = set(members) if members else None
            for row in [r for r in current if wanted is None or r[1] in wanted]:
                rows[row] = agg.event_id
                del current[row]
    return rows


def membership_breaks(
    expected: Mapping[Membership, int | None],
    stored: Sequence[tuple[int, int, int, int | None]],
) -> list[tuple[Membership, str]]:
    """(membership, what is wrong) for each stored row the events do not imply, and back."""
    have = {(c, m, a): r for c, m, a, r in stored}
    out: list[tuple[Membership, str]] = []
    for row, removed in expected.items():
        if row not in have:
            out.append((row, "deleted: an AggregationEvent records it"))
        elif have[row] != removed:
            out.append((row, f"removed_event_id is {have[row]}, the events say {removed}"))
    out.extend(
        (row, "inserted: no AggregationEvent records it") for row in have if row not in expected
    )
    return out


# ---- the registry --------------------------------------------------------------------------------


def registry_digest(rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    """(LtHash state, count) of object rows (``OBJECT_ROW`` tuples)."""
    count = 0

    def records() -> Iterable[bytes]:
        nonlocal count
        for row in rows:
            count += 1
            yield chains.object_record(row)

    state = chains.registry_sum(records()).astype("<u2").tobytes()
    return state, count
