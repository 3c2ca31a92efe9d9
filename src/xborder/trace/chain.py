"""Per-object hash chains, per-batch Merkle roots, the signed registry state and signed tree heads:
what makes the ledger tamper-evident.

chain_i = SHA-256(chain_{i-1} || Event Hash digest_i || document bytes), starting from one fixed
genesis value (each document names its object, so the first link binds the object already), so
editing, deleting, reordering or inserting an event of an object, or its stored Event Hash ID,
changes every later link.
Each capture batch is closed by a Merkle root over its events' chain values (0x01-prefixed inner
nodes, an odd node promoted), bound to the previous batch's root of the same party and signed by
that party, together with every column of the batch row (``batch_message``). Deleting an object's
last event or a whole batch therefore breaks a root or the batch chain.

The object registry (``trace_objects``) is bound by a signed multiset hash of its rows
(``registry_state``: LtHash, a lattice-based homomorphic set hash), updated by each registration.

The whole ledger is one Merkle tree over its batches in id order, leaf = SHA-256(0x00 || signed
batch message || signature) (inner nodes as above, which is RFC 6962's tree hash). A signed tree
head (``sth_message``) over its size and root is the checkpoint a party keeps outside the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

GENESIS_TAG = b"xborder-trace-chain-v2\x00"


GENESIS = hashlib.sha256(GENESIS_TAG).digest()
ZERO_ROOT = b"\x00" * 32
# LtHash16 (Bellare-Micciancio; Lewi et al., "Securing Update Propagation with Homomorphic
# Hashing", 2019): 1024 16-bit lanes, each row's lanes added modulo 2**16.
LT_LANES = 1024
LT_BYTES = 2 * LT_LANES


def link(prev: bytes, digest: bytes, document: bytes) -> bytes:
    """The chain value of an event: its object's previous value, its Event Hash digest and its
    document (both fixed-size prefixes, so the concatenation is unambiguous)."""
    return hashlib.sha256(prev + digest + document).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Merkle root over 32-byte leaves (chain values, already SHA-256 outputs, used as they
    are); inner nodes are SHA-256(0x01 || left || right). The signed batch fixes the leaf count
    and so the tree's shape. Empty -> SHA-256(b'')."""
    sha = hashlib.sha256
    if not leaves:
        return sha(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def batch_message(
    batch_id: int,
    party_id: str,
    prev_root: bytes,
    root: bytes,
    count: int,
    first_event: int,
    last_event: int,
    key_id: str = "",
    created_ms: int = 0,
    source: str | None = None,
) -> bytes:
    """The exact bytes a party signs for a batch: every column of its row."""
    src = source or ""
    head = (
        f"xborder-trace-batch-v2|{batch_id}|{party_id}|{key_id}|{count}|{first_event}|"
        f"{last_event}|{created_ms}|{len(src)}:{src}|{len(prev_root)}|"
    )
    return head.encode("utf-8") + prev_root + root


def row_message(row: Any) -> bytes:
    """``batch_message`` of a stored ``trace_batches`` row (a mapping)."""
    return batch_message(
        int(row["id"]), str(row["party_id"]), bytes(row["prev_root"]), bytes(row["root"]),
        int(row["event_count"]), int(row["first_event_id"]), int(row["last_event_id"]),
        str(row["key_id"]), int(row["created_ms"]), row["source"],
    )  # fmt: skip


def batch_leaf(message: bytes, signature: bytes) -> bytes:
    """A batch's leaf in the ledger-wide tree (RFC 6962 leaf prefix 0x00)."""
    return hashlib.sha256(b"\x00" + message + signature).digest()


def sth_message(tree_size: int, timestamp_ms: int, root: bytes) -> bytes:
    """The exact bytes the platform signs for a signed tree head (a checkpoint)."""
    return f"xborder-trace-sth-v1|{tree_size}|{timestamp_ms}|".encode() + root


# ---- the registry's multiset hash ---------------------------------------------------------------


def object_record(row: Sequence[Any]) -> bytes:
    """Canonical bytes of one ``trace_objects`` row (id, key, kind, tracking number, SSCC,
    destination postcode, order, lane, created_ms): the ``repr`` of the tuple of its values,
    which are ``int``, ``str`` or ``None`` on both stores (quotes escaped, ``None`` apart from
    empty text, so two rows never share a record)."""
    return repr(tuple(row)).encode("utf-8")


def registry_sum(records: Iterable[bytes]) -> np.ndarray[Any, np.dtype[np.uint16]]:
    """The LtHash16 of a multiset of records: the lane-wise sum (mod 2**16) of SHAKE-128
    expansions, so adding or replacing one record updates it without reading the others."""
    shake = hashlib.shake_128
    total = np.zeros(LT_LANES, dtype=np.uint16)
    buf: list[bytes] = []
    for record in records:
        buf.append(shake(record).digest(LT_BYTES))
        if len(buf) >= 4096:
            total += _lanes(buf)
            buf = []
    if buf:
        total += _lanes(buf)
    return total


def _lanes(digests: list[bytes]) -> np.ndarray[Any, np.dtype[np.uint16]]:
    lanes = np.frombuffer(b"".join(digests), dtype="<u2").reshape(-1, LT_LANES)
    summed: np.ndarray[Any, np.dtype[np.uint16]] = lanes.sum(axis=0, dtype=np.uint16)
    return summed


def registry_state(previous: bytes, added: Iterable[bytes], removed: Iterable[bytes]) -> bytes:
    """The registry state after adding and removing records (``previous``: a state, or
    ``ZERO_ROOT`` for the empty registry)."""
    if len(previous) == LT_BYTES:
        state = np.frombuffer(previous, dtype="<u2").copy()
    else:
        state = np.zeros(LT_LANES, dtype=np.uint16)
    state += registry_sum(added)
    state -= registry_sum(removed)
    return state.astype("<u2").tobytes()
