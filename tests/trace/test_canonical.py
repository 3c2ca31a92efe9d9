"""Canonicalisation rules: identifiers, timestamps, numbers, invariance and sensitivity."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from xborder.trace.event_hash import canonical_time, hash_event, prehash
from xborder.trace.identifiers import check_digit, normalise

_EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2020-03-04T11:00:30.000+01:00",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["urn:epc:id:sscc:4012345.0000000333", "urn:epc:id:sscc:4012345.0000000111"],
    "action": "OBSERVE",
    "bizStep": "departing",
    "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.987"},
}


def test_check_digit_known_values() -> None:
    assert check_digit("401234500011") == "5"  # GLN 4012345000115 (reference vectors)
    # SSCC 0 4012345 000000333 -> 040123450000003338 (from the reference vectors)
    assert check_digit("04012345000000333") == "8"


def test_urn_to_digital_link() -> None:
    assert (
        normalise("urn:epc:id:sscc:4012345.0000000333")
        == "https://id.gs1.org/00/040123450000003338"
    )
    assert normalise("urn:epc:id:sgln:4012345.00011.0") == "https://id.gs1.org/414/4012345000115"
    assert (
        normalise("urn:epc:id:sgtin:0614141.011111.987")
        == "https://id.gs1.org/01/00614141111114/21/987"
    )
    assert (
        normalise("https://example.com/sscc/040123450000003338?x=1")
        == "https://id.gs1.org/00/040123450000003338"
    )
    assert normalise("https://xborder.dev/loc/hub/SZX") is None
    assert normalise("urn:epc:id:sscc:4012345.00000003") is None  # wrong length


def test_time_rounds_half_up_to_milliseconds() -> None:
    assert canonical_time("2023-02-02T11:04:03.1415Z") == "2023-02-02T11:04:03.142Z"
    assert canonical_time("2023-02-02T11:04:03.1414Z") == "2023-02-02T11:04:03.141Z"
    assert canonical_time("2023-02-02T23:59:59.9995-01:00") == "2023-02-03T01:00:00.000Z"


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_time_zone_does_not_change_the_hash(moment: datetime, offset_min: int) -> None:
    moment = moment.replace(microsecond=(moment.microsecond // 1000) * 1000, tzinfo=UTC)
    tz = timedelta(minutes=offset_min)
    local = (moment + tz).replace(tzinfo=None).isoformat(timespec="milliseconds")
    sign = "+" if offset_min >= 0 else "-"
    stamp = f"{local}{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    a = dict(_EVENT, eventTime=moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    b = dict(_EVENT, eventTime=stamp)
    assert hash_event(a) == hash_event(b)


@given(
    st.permutations(
        [
            "urn:epc:id:sscc:4012345.0000000333",
            "urn:epc:id:sscc:4012345.0000000111",
            "https://id.gs1.org/00/040123450000002225",
        ]
    )
)
def test_list_order_and_identifier_syntax_do_not_change_the_hash(epcs: list[str]) -> None:
    reordered = dict(_EVENT, epcList=epcs)
    as_links = dict(_EVENT, epcList=[normalise(e) or e for e in reversed(epcs)])
    assert hash_event(reordered) == hash_event(as_links)


@given(st.sampled_from(["bizStep", "action", "eventTime", "readPoint"]))
def test_any_field_change_changes_the_hash(field: str) -> None:
    changed = copy.deepcopy(_EVENT)
    changed[field] = {
        "bizStep": "arriving",
        "action": "ADD",
        "eventTime": "2020-03-04T11:00:30.001+01:00",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.988"},
    }[field]
    assert prehash(changed) != prehash(_EVENT)


def test_record_time_and_event_id_are_not_hashed() -> None:
    extra = dict(_EVENT, recordTime="2030-01-01T00:00:00Z", eventID="urn:uuid:x")
    assert hash_event(extra) == hash_event(_EVENT)
