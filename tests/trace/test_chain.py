"""Merkle roots and chain links: any change, reorder, drop or addition changes the root."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from xborder.services.trace_verify_rows import _CANONICAL_DL
from xborder.trace.chain import (
    GENESIS,
    ZERO_ROOT,
    batch_message,
    link,
    merkle_root,
    object_record,
    registry_state,
)
from xborder.trace.event_hash import canonical_value

_leaves = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True)


@given(_leaves, st.data())
def test_root_detects_change_drop_add_and_swap(leaves: list[bytes], data: st.DataObject) -> None:
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    changed = [*leaves]
    changed[i] = hashlib.sha256(leaves[i]).digest()
    assert merkle_root(changed) != root
    assert merkle_root(leaves[:i] + leaves[i + 1 :]) != root
    assert merkle_root([*leaves, GENESIS]) != root
    if len(leaves) > 1:
        j = (i + 1) % len(leaves)
        swapped = [*leaves]
        swapped[i], swapped[j] = swapped[j], swapped[i]
        assert merkle_root(swapped) != root


def test_link_and_message_bind_their_inputs() -> None:
    digest = hashlib.sha256(b"pre-hash").digest()
    assert link(GENESIS, digest, b"{}") != link(GENESIS, digest, b"{ }")
    assert link(GENESIS, digest, b"{}") != link(GENESIS, GENESIS, b"{}")  # the Event Hash ID
    assert link(GENESIS, digest, b"{}") == hashlib.sha256(GENESIS + digest + b"{}").digest()
    a = batch_message(1, "fwd", GENESIS, GENESIS, 3, 1, 3, "k1", 5, "capture")
    assert a != batch_message(1, "fwd", GENESIS, GENESIS, 2, 1, 3, "k1", 5, "capture")
    assert a != batch_message(2, "fwd", GENESIS, GENESIS, 3, 1, 3, "k1", 5, "capture")
    assert a != batch_message(1, "shop", GENESIS, GENESIS, 3, 1, 3, "k1", 5, "capture")
    # every column of the batch row is signed: key id, record time and source too
    assert a != batch_message(1, "fwd", GENESIS, GENESIS, 3, 1, 3, "k2", 5, "capture")
    assert a != batch_message(1, "fwd", GENESIS, GENESIS, 3, 1, 3, "k1", 6, "capture")
    assert a != batch_message(1, "fwd", GENESIS, GENESIS, 3, 1, 3, "k1", 5, "import:x")


_rows = st.lists(
    st.tuples(st.integers(1, 10**6), st.text(max_size=20), st.none() | st.text(max_size=8)),
    min_size=1,
    max_size=30,
    unique=True,
)


@given(_rows, st.data())
def test_registry_state_is_a_set_hash_updated_in_place(
    rows: list[tuple[object, ...]], data: st.DataObject
) -> None:
    """Adding rows one call at a time, or replacing one, equals hashing the final set at once;
    any edited or dropped row changes the state."""
    records = [object_record(r) for r in rows]
    at_once = registry_state(ZERO_ROOT, records, [])
    split = data.draw(st.integers(0, len(records)))
    stepwise = registry_state(registry_state(ZERO_ROOT, records[:split], []), records[split:], [])
    assert stepwise == at_once
    i = data.draw(st.integers(0, len(records) - 1))
    edited = object_record((*rows[i][:2], "edited"))
    if edited != records[i]:
        replaced = registry_state(at_once, [edited], [records[i]])
        assert replaced == registry_state(ZERO_ROOT, [*records[:i], edited, *records[i + 1 :]], [])
        assert replaced != at_once
    assert registry_state(ZERO_ROOT, records[:i] + records[i + 1 :], []) != at_once


@given(st.from_regex(_CANONICAL_DL, fullmatch=True))
def test_canonical_digital_links_are_left_as_they_are(uri: str) -> None:
    """verify takes these URIs as canonical without calling ``canonical_value``: they are."""
    assert canonical_value(uri, {}) == uri
