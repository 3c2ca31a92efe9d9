"""The columnar capture kernel agrees with the generic CBV algorithm and the EPCIS schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xborder.domain.errors import InvalidValue
from xborder.trace.epcis import build_events, capture_frame, document, sscc_link
from xborder.trace.event_hash import prehash
from xborder.trace.lifecycle import BTT_DECLARATION, BTT_ORDER, BTT_PAYMENT, LIFECYCLE, Step
from xborder.trace.schema import problems

_ssccs = st.integers(min_value=0, max_value=10**18 - 1).map(lambda n: sscc_link(f"{n:018d}"))
_uris = st.sampled_from(
    [
        "https://xborder.dev/loc/hub/CNSZX",
        "https://id.gs1.org/414/4012345000115",
        "https://xborder.dev/loc/warehouse/W-1",
    ]
)
_tx = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from([BTT_ORDER, BTT_PAYMENT, BTT_DECLARATION]),
            "id": st.integers(1, 10**6).map(lambda n: f"https://xborder.dev/tx/{n}"),
        }
    ),
    max_size=3,
)


@st.composite
def _rows(draw: st.DrawFn) -> dict[str, object]:
    step = draw(st.sampled_from(list(Step)))
    spec = LIFECYCLE[step]
    tx = draw(_tx)
    if spec.event_type.value == "TransactionEvent" and not tx:
        tx = [{"type": BTT_ORDER, "id": "https://xborder.dev/tx/order/1"}]
    hours = draw(st.integers(-14, 14))
    return {
        "object_key": draw(_ssccs),
        "step": step.value,
        "event_time": datetime(2026, 1, 1, tzinfo=UTC)
        + timedelta(microseconds=draw(st.integers(0, 10**14))),
        "tz_offset": f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:00",
        "party_id": draw(st.sampled_from(["shop", "fwd"])),
        "read_point": draw(st.none() | _uris),
        "biz_location": draw(st.none() | _uris),
        "children": draw(st.lists(_ssccs, min_size=spec.action.value == "ADD", max_size=4))
        if spec.event_type.value == "AggregationEvent"
        else None,
        "transactions": tx or None,
    }


@settings(max_examples=60, deadline=None)
@given(st.lists(_rows(), min_size=1, max_size=8))
def test_kernel_prehash_equals_generic_prehash(rows: list[dict[str, object]]) -> None:
    built = build_events(capture_frame(rows))
    events = [json.loads(d) for d in built.documents]
    assert built.prehashes == [prehash(e) for e in events]
    assert problems(document(events, datetime(2026, 1, 2, tzinfo=UTC))) == []


def test_every_lifecycle_step_is_a_valid_epcis_event() -> None:
    rows = [
        {
            "object_key": sscc_link("012345670000000017"),
            "step": s.value,
            "event_time": datetime(2026, 1, 1, tzinfo=UTC),
            "tz_offset": "+00:00",
            "party_id": "p",
            "transactions": [{"type": BTT_ORDER, "id": "https://x.dev/o/1"}],
            "children": [sscc_link("012345670000000024")],
        }
        for s in Step
    ]
    built = build_events(capture_frame(rows))
    created = datetime(2026, 1, 2, tzinfo=UTC)
    assert problems(document([json.loads(d) for d in built.documents], created)) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"object_key": "urn:epc:id:sscc:4012345.0000000333"}, "object_key"),
        ({"step": "teleported"}, "step"),
        ({"tz_offset": "8"}, "tz_offset"),
        ({"read_point": 'https://x.dev/"quoted"'}, "read_point"),
        ({"read_point": "urn:epc:id:sgln:4012345.00011.0"}, "read_point"),
        ({"party_id": None}, "party_id"),
        ({"party_id": "Shop A"}, "party_id"),
        ({"step": "consolidated", "children": []}, "children"),
        ({"step": "order_placed"}, "transactions"),
    ],
)
def test_kernel_rejects_bad_rows_naming_the_field(change: dict[str, object], field: str) -> None:
    row = {
        "object_key": sscc_link("012345670000000017"),
        "step": "departed",
        "event_time": datetime(2026, 1, 1, tzinfo=UTC),
        "tz_offset": "+00:00",
        "party_id": "p",
    }
    row.update(change)
    with pytest.raises(InvalidValue) as err:
        build_events(capture_frame([row]))
    assert err.value.field == field
