"""Per-party API keys: create (the token is shown once), list, revoke, authenticate; per-key rate
limits and idempotency records, all kept in the store so every worker process agrees.

A token is ``xbk_<key_id>_<secret>``: ``key_id`` is 12 lowercase hex digits (the public handle
``keys list`` shows and ``keys revoke`` takes), ``secret`` 43 URL-safe characters (256 bits).
The store keeps only an argon2id hash of the whole token (argon2-cffi's ``PasswordHasher`` with
its default, RFC 9106 low-memory parameters), so a copy of the database yields no usable key.

argon2 is slow on purpose, too slow to run on every request. ``authenticate`` therefore caches a
successful verification per process, keyed by the token's SHA-256 (a fast hash is fine for a
256-bit random secret), but it reads the key row on every call: a revocation written by any
worker refuses the key on every worker at once, warm cache or not.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from xborder.domain.errors import InvalidValue, NotFound, RateLimited, Unauthorized
from xborder.services.access import (
    OPERATOR_PARTY,
    WORLD_ROLES,
    ApiRole,
    Principal,
    check_scopes,
    parse_role,
)
from xborder.store.uow import UnitOfWork

TOKEN_PREFIX = "xbk_"
TOKEN_PATTERN = re.compile(r"^xbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
UNAUTHORIZED = "invalid API key"  # one message for every failure: it must not say which
RATE_WINDOW_SECONDS = 60
DEFAULT_RATE_LIMIT = 6000  # requests per key per minute (ApiSettings may override)
CACHE_SIZE = 10_000  # verified tokens remembered per process

_hasher = PasswordHasher()


class _VerifiedCache:
    """SHA-256(token) -> (key_id, stored hash) of tokens argon2 already accepted, bounded LRU.

    The stored hash is part of the entry so that an entry can only vouch for the exact key row
    it was verified against."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[str, str] | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
            return entry

    def put(self, digest: str, key_id: str, secret_hash: str) -> None:
        with self._lock:
            self._entries[digest] = (key_id, secret_hash)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


VERIFIED = _VerifiedCache(CACHE_SIZE)


# -- commands and results ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as ``keys list`` shows it: never the token, never its hash."""

    key_id: str
    party_id: str
    role: ApiRole
    scopes: frozenset[str]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class CreateKey:
    party_id: str
    role: ApiRole | str
    scopes: frozenset[str] | None = None  # None: the role's DEFAULT_SCOPES
    label: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The new key; ``token`` exists only here, it is never stored nor shown again."""

    key_id: str
    token: str
    party_id: str
    role: ApiRole
    scopes: frozenset[str]
    label: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ListKeys:
    party_id: str | None = None  # None: every party's keys


@dataclass(frozen=True, slots=True)
class RevokeKey:
    key_id: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    token: str


@dataclass(frozen=True, slots=True)
class CheckRate:
    key_id: str
    limit_per_minute: int = DEFAULT_RATE_LIMIT  # 0 or less: no limit (and no store write)


@dataclass(frozen=True, slots=True)
class CountHits:
    key_id: str
    window_start: int  # Unix seconds, a multiple of RATE_WINDOW_SECONDS
    hits: int


# -- use cases ---------------------------------------------------------------------------------


def create_key(uow: UnitOfWork, command: CreateKey) -> CreatedKey:
    """A new key for a party of the stored world (``NotFound`` otherwise) whose world roles fit
    the API role, with known scopes the role may hold (``InvalidValue`` naming what is wrong).
    Operator keys belong to the party id ``operator`` and to nothing else."""
    role = parse_role(str(command.role))
    label = _label(command.label)
    with uow:
        _check_party(uow, command.party_id, role)
        scopes = check_scopes(role, command.scopes)
        key_id = secrets.token_hex(6)
        while uow.api.key(key_id) is not None:  # 48 bits: a clash is all but impossible
            key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        now = uow.clock.now()
        uow.api.add_key(
            {
                "key_id": key_id,
                "party_id": command.party_id,
                "role": role.value,
                "scopes": " ".join(sorted(scopes)),
                "secret_hash": _hasher.hash(token),
                "label": label,
                "created_at": now,
                "revoked_at": None,
            }
        )
        uow.commit()
    return CreatedKey(key_id, token, command.party_id, role, scopes, label, now)


def list_keys(uow: UnitOfWork, command: ListKeys) -> list[KeyInfo]:
    """Every key (or one party's), oldest first, revoked ones included; no tokens, no hashes."""
    with uow:
        return [_info(row) for row in uow.api.keys(command.party_id)]


def revoke_key(uow: UnitOfWork, command: RevokeKey) -> KeyInfo:
    """Refuse the key from now on (idempotent: revoking again keeps the first time)."""
    with uow:
        if uow.api.key(command.key_id) is None:
            raise NotFound(f"API key {command.key_id!r} does not exist")
        uow.api.revoke(command.key_id, uow.clock.now())
        row = uow.api.key(command.key_id)
        uow.commit()
    assert row is not None
    return _info(row)


def authenticate(uow: UnitOfWork, command: Authenticate) -> Principal:
    """The principal a token stands for; ``Unauthorized`` (always the same message) if the token
    is malformed, its key unknown or revoked, or the secret wrong."""
    match = TOKEN_PATTERN.fullmatch(command.token)
    if match is None:
        raise Unauthorized(UNAUTHORIZED)
    key_id = match.group(1)
    with uow:
        row = uow.api.auth_key(key_id)  # on SQLite: a snapshot read that takes no write lock
    if row is None or row["revoked"]:
        raise Unauthorized(UNAUTHORIZED)
    digest = hashlib.sha256(command.token.encode()).hexdigest()
    if VERIFIED.get(digest) != (key_id, row["secret_hash"]):
        try:
            _hasher.verify(row["secret_hash"], command.token)
        except (VerificationError, InvalidHashError):
            raise Unauthorized(UNAUTHORIZED) from None
        VERIFIED.put(digest, key_id, row["secret_hash"])
    return Principal(key_id, row["party_id"], ApiRole(row["role"]), _scopes(row["scopes"]))


def check_rate(uow: UnitOfWork, command: CheckRate) -> None:
    """Count one request of the key in the current minute (fixed windows aligned to the clock's
    minutes); ``RateLimited`` once the count exceeds the limit, with the seconds until the next
    window. The count is one atomic upsert, so it holds across worker processes."""
    if command.limit_per_minute <= 0:
        return
    window, retry = rate_window(uow.clock.now())
    with uow:
        count = uow.api.hit(command.key_id, window)
        if count == 1:  # the key's first request this minute: drop its older windows
            uow.api.prune_windows(command.key_id, window)
        uow.commit()
    if count > command.limit_per_minute:
        raise rate_limited(command.limit_per_minute, retry)


def count_hits(uow: UnitOfWork, command: CountHits) -> int:
    """Add ``hits`` requests of the key to the window starting at ``window_start`` in one
    atomic statement; the window's count after them (every worker's). Used by a worker that
    counts in memory and flushes in batches (``xborder.api.limits``); the key's first flush in
    a window drops its older windows."""
    with uow:
        count = uow.api.hit(command.key_id, command.window_start, command.hits)
        if count == command.hits:
            uow.api.prune_windows(command.key_id, command.window_start)
        uow.commit()
    return count


def rate_window(now: datetime) -> tuple[int, int]:
    """(start of the fixed window holding ``now``, seconds until the next one, at least 1)."""
    seconds = int(now.timestamp())
    start = seconds - seconds % RATE_WINDOW_SECONDS
    return start, max(1, start + RATE_WINDOW_SECONDS - seconds)


def rate_limited(limit_per_minute: int, retry: int) -> RateLimited:
    return RateLimited(retry, f"rate limit of {limit_per_minute} requests per minute "
                              f"exceeded; retry after {retry} s")  # fmt: skip


def _check_party(uow: UnitOfWork, party_id: str, role: ApiRole) -> None:
    if role is ApiRole.BUYER:
        raise InvalidValue(
            "role", "buyers hold no key; they track a parcel by tracking number and postcode"
        )
    if role is ApiRole.OPERATOR or party_id == OPERATOR_PARTY:
        if role is not ApiRole.OPERATOR or party_id != OPERATOR_PARTY:
            raise InvalidValue(
                "role", f"operator keys belong to the party {OPERATOR_PARTY!r} and only to it"
            )
        return
    roles = uow.api.party_roles(party_id)
    if roles is None:
        raise NotFound(f"party {party_id!r} is not in the stored world")
    needed = WORLD_ROLES[role]
    if not roles & {r.value for r in needed}:
        wanted = " or ".join(sorted(r.value for r in needed))
        raise InvalidValue(
            "role", f"party {party_id!r} is not a {wanted} (it is {', '.join(sorted(roles))})"
        )


def _label(label: str | None) -> str | None:
    if label is None or not label.strip():
        return None
    if len(label.strip()) > 200:
        raise InvalidValue("label", "at most 200 characters")
    return label.strip()


def _scopes(stored: str) -> frozenset[str]:
    return frozenset(stored.split())


def _info(row: dict[str, Any]) -> KeyInfo:
    return KeyInfo(
        key_id=row["key_id"],
        party_id=row["party_id"],
        role=ApiRole(row["role"]),
        scopes=_scopes(row["scopes"]),
        label=row["label"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
