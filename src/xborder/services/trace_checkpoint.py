"""Signed checkpoints of the ledger: what lets a party notice that the newest batches were deleted
or history rewritten, which the store alone cannot show.

As a Certificate Transparency log does, the platform signs a tree head: the number of batches,
the Merkle root over them in id order (leaf = SHA-256(0x00 || signed batch message ||
signature), RFC 6962's tree hash) and the clock's time. Each party keeps the latest one it saw
(``trace checkpoint --out FILE``); ``trace verify --checkpoint FILE`` then proves the ledger still
extends it: its signature verifies and the first ``tree_size`` batches hash to its root. The whole
ledger is at hand, so consistency is checked by recomputing that root, not by a proof.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xborder.domain.errors import InvalidValue
from xborder.services.trace_capture import PARTY, epoch_ms
from xborder.store.uow import UnitOfWork
from xborder.trace import chain as chains
from xborder.trace.signing import KeyStore, verify_signature

PLATFORM = "platform"  # the party whose key signs checkpoints
FORMAT = "xborder-trace-sth-v1"
MAX_CHECKPOINT_BYTES = 64 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A checkpoint: ``tree_size`` batches hash to ``root_hash``, signed at ``timestamp_ms``."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    party_id: str
    key_id: str
    signature: bytes

    @property
    def message(self) -> bytes:
        return chains.sth_message(self.tree_size, self.timestamp_ms, self.root_hash)

    def as_dict(self) -> dict[str, Any]:
        moment = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        return {
            "format": FORMAT,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "timestamp_ms": self.timestamp_ms,
            "party": self.party_id,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1)


def _field(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidValue(name, f"missing or not a {kind.__name__}")
    return value


def parse_checkpoint(raw: str | bytes) -> SignedTreeHead:
    """A checkpoint from its JSON; ``InvalidValue`` names the field and the reason."""
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise InvalidValue("$", f"a checkpoint is a few hundred bytes, this is {len(raw)}")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidValue("$", f"not a JSON checkpoint ({str(exc)[:80]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidValue("format", f"not a {FORMAT} checkpoint")
    size = _field(data, "tree_size", int)
    stamp = _field(data, "timestamp_ms", int)
    root = _field(data, "root_hash", str)
    party = _field(data, "party", str)
    kid = _field(data, "key_id", str)
    if size < 0 or stamp < 0:
        raise InvalidValue("tree_size" if size < 0 else "timestamp_ms", "must not be negative")
    if not _HEX64.match(root):
        raise InvalidValue("root_hash", "must be 64 lower-case hex digits")
    if not PARTY.match(party) or not re.match(r"^[0-9a-f]{1,16}$", kid):
        raise InvalidValue("party" if not PARTY.match(party) else "key_id", "malformed")
    try:
        signature = base64.b64decode(_field(data, "signature", str), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue("signature", "not base64") from None
    if len(signature) != 64:
        raise InvalidValue("signature", "an Ed25519 signature has 64 bytes")
    return SignedTreeHead(size, bytes.fromhex(root), stamp, party, kid, signature)


def tree_root(batches: Sequence[Mapping[str, Any]]) -> bytes:
    """The Merkle root over batches (in the order given: id order)."""
    return chains.merkle_root(
        [chains.batch_leaf(chains.row_message(b), bytes(b["signature"])) for b in batches]
    )


@dataclass(frozen=True, slots=True)
class MakeCheckpoint:
    """Sign the ledger's current tree head with ``party_id``'s key (default: the platform)."""

    party_id: str = PLATFORM


def checkpoint(uow: UnitOfWork, command: MakeCheckpoint) -> SignedTreeHead:
    """The latest signed tree head; its time is the clock's now. Stores the signer's public key
    (so that anyone can check it) and nothing else."""
    with uow:
        repo = uow.trace
        repo.lock()  # no batch may land between reading the tree and signing its head
        batches = repo.batches()
        root = tree_root(batches)
        now_ms = epoch_ms(uow.clock.now())
        key = uow.keys.load_or_create(command.party_id)
        repo.add_key(command.party_id, key.key_id, key.public, now_ms)
        message = chains.sth_message(len(batches), now_ms, root)
        head = SignedTreeHead(
            len(batches), root, now_ms, command.party_id, key.key_id, key.sign(message)
        )
        uow.commit()
    return head


def check_checkpoint(
    head: SignedTreeHead,
    batches: Sequence[Mapping[str, Any]],
    public_keys: Mapping[tuple[str, str], bytes],
    keys: KeyStore | None,
) -> list[tuple[str, int | None]]:
    """(reason, batch id) for each way the ledger fails to extend ``head``: a signature that
    does not verify (checked with the local key file when there is one, else the stored key),
    fewer batches than it signed, or a first ``tree_size`` batches that hash to another root."""
    problems: list[tuple[str, int | None]] = []
    public = public_keys.get((head.party_id, head.key_id))
    if keys is not None and keys.has(head.party_id):
        local = keys.load(head.party_id)
        public = local.public if local.key_id == head.key_id else None
    if public is None:
        problems.append(
            (f"no key {head.key_id} of {head.party_id} to check the checkpoint's signature", None)
        )
    elif not verify_signature(public, head.signature, head.message):
        problems.append(("the checkpoint's signature does not verify (forged or altered)", None))
    ordered = sorted(batches, key=lambda b: int(b["id"]))
    if len(ordered) < head.tree_size:
        problems.append(
            (
                f"the ledger holds {len(ordered)} batches, the checkpoint signed "
                f"{head.tree_size}: batches were deleted",
                None,
            )
        )
    elif tree_root(ordered[: head.tree_size]) != head.root_hash:
        problems.append(
            (
                f"the first {head.tree_size} batches do not hash to the checkpoint's root: "
                "history was rewritten or batches deleted",
                int(ordered[head.tree_size - 1]["id"]) if head.tree_size else None,
            )
        )
    return problems
