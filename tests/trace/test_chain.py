"""Merkle roots and chain links: any change, reorder, drop or addition changes the root."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from xborder.trace.chain import GENESIS, batch_message, link, merkle_root

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
    assert link(GENESIS, b"{}") != link(GENESIS, b"{ }")
    assert link(GENESIS, b"{}") == hashlib.sha256(GENESIS + b"{}").digest()
    a = batch_message(1, "fwd", GENESIS, GENESIS, 3, 1, 3)
    assert a != batch_message(1, "fwd", GENESIS, GENESIS, 2, 1, 3)
    assert a != batch_message(2, "fwd", GENESIS, GENESIS, 3, 1, 3)
    assert a != batch_message(1, "shop", GENESIS, GENESIS, 3, 1, 3)
