"""Idempotency records: the response to replay when a client repeats a request with the same
``Idempotency-Key`` (per API key). Stored in the same transaction as the work they answer, so a
retry after a crash either finds the record or finds nothing done; two workers racing store one
record (the first), and the same key with another request is a ``Conflict``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from xborder.domain.errors import Conflict, InvalidValue
from xborder.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class IdempotentRecord:
    key_id: str
    idem_key: str
    request_hash: str
    status_code: int
    response_json: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FindIdempotent:
    key_id: str
    idem_key: str
    request_hash: str | None = None  # given: a stored record of another request is a Conflict


@dataclass(frozen=True, slots=True)
class SaveIdempotent:
    key_id: str
    idem_key: str
    request_hash: str
    status_code: int
    response_json: str


def find_idempotent_many(
    uow: UnitOfWork, key_id: str, idem_keys: Sequence[str]
) -> dict[str, IdempotentRecord]:
    """The records stored for several of one key's ``Idempotency-Key``s, by idempotency key
    (inside the caller's unit of work; no request-hash check: the caller compares)."""
    with uow:
        return {k: _record(r) for k, r in uow.api.idempotent_many(key_id, idem_keys).items()}


def save_idempotent_many(
    uow: UnitOfWork, records: Sequence[SaveIdempotent]
) -> dict[tuple[str, str], IdempotentRecord]:
    """Store several records (first writer wins, as ``save_idempotent``) in the caller's
    transaction; the stored record of each (key_id, idem_key), which the caller compares."""
    for command in records:
        if not command.idem_key or len(command.idem_key) > 255:
            raise InvalidValue("Idempotency-Key", "must be 1 to 255 characters", command.idem_key)
    with uow:
        now = uow.clock.now()
        uow.api.add_idempotent_many([
            {"key_id": c.key_id, "idem_key": c.idem_key, "request_hash": c.request_hash,
             "status_code": c.status_code, "response_json": c.response_json, "created_at": now}
            for c in records
        ])  # fmt: skip
        out: dict[tuple[str, str], IdempotentRecord] = {}
        for key_id in dict.fromkeys(c.key_id for c in records):
            wanted = [c.idem_key for c in records if c.key_id == key_id]
            for idem_key, row in uow.api.idempotent_many(key_id, wanted).items():
                out[(key_id, idem_key)] = _record(row)
        uow.commit()
    return out


def find_idempotent(uow: UnitOfWork, command: FindIdempotent) -> IdempotentRecord | None:
    """The response stored for this key's ``Idempotency-Key`` (``None``: a first request).
    With ``request_hash``, a record of a different request raises ``Conflict``."""
    with uow:
        row = uow.api.idempotent(command.key_id, command.idem_key)
    if row is None:
        return None
    record = _record(row)
    if command.request_hash is not None and record.request_hash != command.request_hash:
        raise reused_key(command.idem_key)
    return record


def save_idempotent(uow: UnitOfWork, command: SaveIdempotent) -> IdempotentRecord:
    """Store the response to replay for this ``Idempotency-Key``; the stored record. Two
    workers racing store one (the first); a repeat of the same request returns the stored
    record, a different request under the same key raises ``Conflict``."""
    if not command.idem_key or len(command.idem_key) > 255:
        raise InvalidValue("Idempotency-Key", "must be 1 to 255 characters", command.idem_key)
    with uow:
        uow.api.add_idempotent(
            {
                "key_id": command.key_id,
                "idem_key": command.idem_key,
                "request_hash": command.request_hash,
                "status_code": command.status_code,
                "response_json": command.response_json,
                "created_at": uow.clock.now(),
            }
        )
        row = uow.api.idempotent(command.key_id, command.idem_key)
        uow.commit()
    assert row is not None
    record = _record(row)
    if record.request_hash != command.request_hash:
        raise reused_key(command.idem_key)
    return record


def hash_request(*parts: str | bytes) -> str:
    """A request's fingerprint for idempotency (method, path, body...): SHA-256 hex of the
    parts, each length-prefixed so that no two different sequences collide by concatenation."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


# -- helpers -----------------------------------------------------------------------------------


def _record(row: dict[str, Any]) -> IdempotentRecord:
    return IdempotentRecord(
        key_id=row["key_id"],
        idem_key=row["idem_key"],
        request_hash=row["request_hash"],
        status_code=int(row["status_code"]),
        response_json=row["response_json"],
        created_at=row["created_at"],
    )


def reused_key(idem_key: str) -> Conflict:
    """The answer to a key used again for another request."""
    return Conflict(f"Idempotency-Key {idem_key!r} was already used for a different request")
