"""Per-object hash chains and per-batch Merkle roots: what makes the ledger tamper-evident.

chain_i = SHA-256(chain_{i-1} || document bytes), starting from one fixed genesis value (each
document names its object, so the first link binds the object already), so editing, deleting,
reordering or inserting an event of an object changes every later link.
Each capture batch is closed by a Merkle root over its events' chain values (0x01-prefixed inner
nodes, an odd node promoted), bound to the previous batch's root
of the same party and signed by that party. Deleting an object's last event or a whole batch
therefore breaks a root or the batch chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

GENESIS_TAG = b"xborder-trace-chain-v1\x00"


GENESIS = hashlib.sha256(GENESIS_TAG).digest()


def link(prev: bytes, document: bytes) -> bytes:
    return hashlib.sha256(prev + document).digest()


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
) -> bytes:
    """The exact bytes a party signs for a batch."""
    head = f"xborder-trace-batch-v1|{batch_id}|{party_id}|{count}|{first_event}|{last_event}|"
    return head.encode("utf-8") + prev_root + root
