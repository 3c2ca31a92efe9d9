"""API keys: only an argon2id hash is stored, the token is shown once, every bad token gets the
same answer, revocation is immediate on every worker, roles and scopes are checked, rate windows
count across workers, idempotency records keep the first response; and the ``keys`` commands.

Store-touching tests run on SQLite and PostgreSQL (the shared scenario platforms of
``tests/api/conftest.py``); "another worker" is a second engine on the same database."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.api.conftest import PARTIES, key_factory
from xborder.bootstrap import Platform, bootstrap
from xborder.domain.clock import SettableClock
from xborder.domain.errors import (
    Conflict,
    Forbidden,
    InvalidValue,
    NotFound,
    RateLimited,
    Unauthorized,
)
from xborder.services import api_keys
from xborder.services.access import (
    ALLOWED_SCOPES,
    DEFAULT_SCOPES,
    SCOPES,
    ApiRole,
    Principal,
)
from xborder.services.api_keys import (
    TOKEN_PATTERN,
    UNAUTHORIZED,
    VERIFIED,
    Authenticate,
    CheckRate,
    CreateKey,
    ListKeys,
    RevokeKey,
    authenticate,
    check_rate,
    create_key,
    list_keys,
    revoke_key,
)
from xborder.services.idempotency import (
    FindIdempotent,
    SaveIdempotent,
    find_idempotent,
    save_idempotent,
)
from xborder.store.schema import parties
from xborder.store.schema_api import api_keys as api_keys_table
from xborder.store.schema_api import api_rate_windows, idempotency_records

R = ApiRole


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def platform(request: pytest.FixtureRequest) -> Platform:
    name = "api_platform" if request.param == "sqlite" else "postgres_api_platform"
    result: Platform = request.getfixturevalue(name)
    return result


@pytest.fixture
def clock(platform: Platform) -> SettableClock:
    assert isinstance(platform.clock, SettableClock)
    return platform.clock


@pytest.fixture
def worker(platform: Platform) -> Iterator[Platform]:
    """A second worker process's view: its own engine on the same database, same clock."""
    url = platform.engine.url.render_as_string(hide_password=False)
    other = bootstrap(url, clock=platform.clock, keys=platform.keys, migrate=False)
    yield other
    other.close()


def _new(platform: Platform, role: ApiRole = R.SELLER, scopes: set[str] | None = None) -> str:
    return key_factory(platform)(PARTIES[role], role, scopes)[0]


# -- creating: only the hash is stored, the token is shown once ------------------------------------
def test_the_store_holds_an_argon2id_hash_and_never_the_token(platform: Platform) -> None:
    created = create_key(platform.uow(), CreateKey("seller-sz-gadgets", "seller", None, "shop"))
    assert TOKEN_PATTERN.fullmatch(created.token)
    assert created.token.startswith(f"xbk_{created.key_id}_") and len(created.token) == 60
    with platform.engine.connect() as conn:
        row = conn.execute(
            select(api_keys_table).where(api_keys_table.c.key_id == created.key_id)
        ).one()
        every_value = [str(v) for r in conn.execute(select(api_keys_table)) for v in r]
    secret = created.token.split("_", 2)[2]
    assert not any(created.token in v or secret in v for v in every_value)
    assert row.secret_hash.startswith("$argon2id$")
    hasher = PasswordHasher()  # the default parameters, as the docs say
    assert hasher.verify(row.secret_hash, created.token)
    assert not hasher.check_needs_rehash(row.secret_hash)
    assert (row.party_id, row.role, row.label) == ("seller-sz-gadgets", "seller", "shop")
    assert set(row.scopes.split()) == DEFAULT_SCOPES[R.SELLER] == created.scopes
    stored_at = row.created_at.replace(tzinfo=UTC) if row.created_at.tzinfo is None else (
        row.created_at)  # fmt: skip
    assert stored_at == platform.clock.now() == created.created_at


def test_two_keys_never_share_a_token_or_an_id(platform: Platform) -> None:
    a, b = _new(platform), _new(platform)
    assert a != b and a[4:16] != b[4:16]


def test_list_never_returns_a_token_or_a_hash(platform: Platform) -> None:
    created = create_key(platform.uow(), CreateKey("platform-global-na", R.PLATFORM))
    keys = {k.key_id: k for k in list_keys(platform.uow(), ListKeys())}
    info = keys[created.key_id]
    assert (info.party_id, info.role, info.active) == ("platform-global-na", R.PLATFORM, True)
    assert "payments:write" not in info.scopes  # a marketplace's default leaves it out
    dumped = json.dumps([asdict(k) for k in keys.values()], default=str)
    assert created.token not in dumped and "argon2" not in dumped
    assert not hasattr(info, "token") and not hasattr(info, "secret_hash")
    mine = list_keys(platform.uow(), ListKeys("platform-global-na"))
    assert created.key_id in {k.key_id for k in mine}
    assert {k.party_id for k in mine} == {"platform-global-na"}


# -- authenticating ------------------------------------------------------------------------------
def test_a_token_authenticates_as_its_party_role_and_scopes(platform: Platform) -> None:
    token = _new(platform, R.CARRIER, {"parcels:read", "trace:write"})
    principal = authenticate(platform.uow(), Authenticate(token))
    assert principal == Principal(token[4:16], PARTIES[R.CARRIER], R.CARRIER,
                                  frozenset({"parcels:read", "trace:write"}))  # fmt: skip
    principal.require("parcels:read")
    with pytest.raises(Forbidden, match="parcels:write"):
        principal.require("parcels:write")


def test_every_bad_token_gets_the_same_answer(platform: Platform) -> None:
    token = _new(platform)
    key_id, secret = token[4:16], token[17:]
    revoked = _new(platform)
    revoke_key(platform.uow(), RevokeKey(revoked[4:16]))
    other_secret = "A" * 43 if secret != "A" * 43 else "B" * 43
    bad = [
        "", "xbk_", token + "x", token[:-1], token.upper(), token.replace("xbk_", "xbx_"),
        f"xbk_{key_id.upper()}_{secret}", f"xbk_{key_id}_{secret[:-1]}!", f" {token}",
        f"xbk_{'0' * 12}_{secret}",  # well formed, unknown key id
        f"xbk_{key_id}_{other_secret}",  # known key id, wrong secret
        revoked,  # right token, revoked key
    ]  # fmt: skip
    for attempt in bad:
        with pytest.raises(Unauthorized) as caught:
            authenticate(platform.uow(), Authenticate(attempt))
        assert str(caught.value) == UNAUTHORIZED, attempt
    assert authenticate(platform.uow(), Authenticate(token)).key_id == key_id


def test_argon2_runs_once_per_key_per_process(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = create_key(platform.uow(), CreateKey(PARTIES[R.SELLER], R.SELLER)).token
    calls: list[str] = []
    real = api_keys._hasher

    class Counting:
        def verify(self, hashed: str, password: str) -> bool:
            calls.append(password)
            return real.verify(hashed, password)

    monkeypatch.setattr(api_keys, "_hasher", Counting())
    for _ in range(5):
        authenticate(platform.uow(), Authenticate(token))
    assert calls == [token]
    VERIFIED.clear()  # a new process: verified once more
    authenticate(platform.uow(), Authenticate(token))
    assert calls == [token, token]


def test_revocation_is_immediate_on_every_worker_even_with_a_warm_cache(
    platform: Platform, worker: Platform, clock: SettableClock
) -> None:
    token = _new(platform)
    key_id = token[4:16]
    for p in (platform, worker):  # both "workers" have verified the token: the cache is warm
        assert authenticate(p.uow(), Authenticate(token)).key_id == key_id
    revoked = revoke_key(worker.uow(), RevokeKey(key_id))
    assert revoked.revoked_at == clock.now() and not revoked.active
    for p in (platform, worker):
        with pytest.raises(Unauthorized, match=UNAUTHORIZED):
            authenticate(p.uow(), Authenticate(token))
    first = revoked.revoked_at
    clock.advance(timedelta(minutes=5))
    again = revoke_key(platform.uow(), RevokeKey(key_id))  # idempotent: keeps the first time
    assert again.revoked_at == first
    listed = {k.key_id: k for k in list_keys(platform.uow(), ListKeys())}[key_id]
    assert listed.revoked_at == first
    with pytest.raises(NotFound):
        revoke_key(platform.uow(), RevokeKey("0" * 12))


# -- roles and scopes ----------------------------------------------------------------------------
def test_a_key_needs_a_party_of_the_world(platform: Platform) -> None:
    with pytest.raises(NotFound, match="no-such-seller"):
        create_key(platform.uow(), CreateKey("no-such-seller", R.SELLER))


@pytest.mark.parametrize(
    ("party", "role", "reason"),
    [
        ("lp-meridian-express", "seller", "not a seller"),
        ("seller-sz-gadgets", "carrier", "last_mile_carrier or logistics_provider"),
        ("platform-global-na", "operator", "operator keys belong"),
        ("operator", "seller", "operator keys belong"),
        ("seller-sz-gadgets", "buyer", "buyers hold no key"),
        ("seller-sz-gadgets", "admin", "unknown role"),
    ],
)
def test_the_role_must_fit_the_party(
    platform: Platform, party: str, role: str, reason: str
) -> None:
    with pytest.raises(InvalidValue, match=reason) as caught:
        create_key(platform.uow(), CreateKey(party, role))
    assert caught.value.field == "role"


def test_every_role_has_a_party_in_the_world(platform: Platform) -> None:
    for role, party in PARTIES.items():
        created = create_key(platform.uow(), CreateKey(party, role))
        assert created.scopes == DEFAULT_SCOPES[role] and created.scopes <= ALLOWED_SCOPES[role]
    assert ALLOWED_SCOPES[R.OPERATOR] == frozenset(SCOPES)


def test_a_last_mile_carrier_holds_a_carrier_key(platform: Platform) -> None:
    with platform.uow() as uow:
        ids = [r for (r,) in uow.connection.execute(
            select(parties.c.id).where(parties.c.roles.like("%last_mile_carrier%")))]  # fmt: skip
    assert ids
    assert create_key(platform.uow(), CreateKey(ids[0], R.CARRIER)).role is R.CARRIER


@pytest.mark.parametrize(
    ("role", "scopes", "named", "reason"),
    [
        (R.SELLER, {"orders:read", "orders:eat"}, "orders:eat", "unknown scope"),
        (R.SELLER, {"orders:read", "plans:write"}, "plans:write", "not allowed for role seller"),
        (R.CARRIER, {"orders:write"}, "orders:write", "not allowed for role carrier"),
        (R.PAYMENT_PROVIDER, {"simulate:run"}, "simulate:run", "not allowed"),
        (R.SELLER, set(), None, "at least one scope"),
    ],
)
def test_scopes_must_be_known_and_allowed_for_the_role(
    platform: Platform, role: ApiRole, scopes: set[str], named: str | None, reason: str
) -> None:
    before = len(list_keys(platform.uow(), ListKeys()))
    with pytest.raises(InvalidValue, match=reason) as caught:
        create_key(platform.uow(), CreateKey(PARTIES[role], role, frozenset(scopes)))
    assert caught.value.field == "scope" and caught.value.value == named
    assert len(list_keys(platform.uow(), ListKeys())) == before  # nothing stored


def test_the_operator_may_hold_every_scope(platform: Platform) -> None:
    created = create_key(platform.uow(), CreateKey("operator", R.OPERATOR, frozenset(SCOPES)))
    principal = authenticate(platform.uow(), Authenticate(created.token))
    assert principal.is_operator and principal.scopes == frozenset(SCOPES)


# -- rate limits ---------------------------------------------------------------------------------
def _windows(platform: Platform, key_id: str) -> dict[int, int]:
    with platform.engine.connect() as conn:
        w = api_rate_windows.c
        rows = conn.execute(select(w.window_start, w.count).where(w.key_id == key_id))
        return {int(s): int(c) for s, c in rows}


def test_the_rate_window_counts_across_workers(
    platform: Platform, worker: Platform, clock: SettableClock
) -> None:
    key_id = _new(platform)[4:16]
    minute = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    clock.set(minute + timedelta(seconds=15))
    for i in range(5):  # two workers take turns: five requests between them are allowed
        check_rate((platform if i % 2 else worker).uow(), CheckRate(key_id, 5))
    with pytest.raises(RateLimited) as caught:
        check_rate(platform.uow(), CheckRate(key_id, 5))
    assert caught.value.retry_after_seconds == 45
    clock.set(minute + timedelta(seconds=59, microseconds=500_000))
    with pytest.raises(RateLimited) as caught:
        check_rate(worker.uow(), CheckRate(key_id, 5))
    assert caught.value.retry_after_seconds == 1
    assert _windows(platform, key_id) == {int(minute.timestamp()): 7}
    clock.set(minute + timedelta(minutes=1))  # a new window: allowed again, the old one dropped
    check_rate(worker.uow(), CheckRate(key_id, 5))
    assert _windows(platform, key_id) == {int(minute.timestamp()) + 60: 1}
    check_rate(worker.uow(), CheckRate(key_id, 0))  # no limit: nothing counted
    assert _windows(platform, key_id) == {int(minute.timestamp()) + 60: 1}


def test_concurrent_requests_are_each_counted_once(platform: Platform, worker: Platform) -> None:
    key_id = _new(platform)[4:16]
    limited: list[int] = []

    def hammer(p: Platform) -> None:
        for _ in range(15):
            try:
                check_rate(p.uow(), CheckRate(key_id, 40))
            except RateLimited:
                limited.append(1)

    threads = [threading.Thread(target=hammer, args=(p,)) for p in (platform, worker) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(_windows(platform, key_id).values()) == 60  # the clock stands still: one window
    assert len(limited) == 20


# -- idempotency records -------------------------------------------------------------------------
def test_an_idempotency_record_keeps_the_first_response(
    platform: Platform, worker: Platform
) -> None:
    key_id, other = _new(platform)[4:16], _new(platform)[4:16]
    uow = platform.uow
    assert find_idempotent(uow(), FindIdempotent(key_id, "order-1")) is None
    saved = save_idempotent(uow(), SaveIdempotent(key_id, "order-1", "h1", 201, '{"id": 1}'))
    assert (saved.status_code, saved.response_json) == (201, '{"id": 1}')
    assert saved.created_at == platform.clock.now()
    assert find_idempotent(worker.uow(), FindIdempotent(key_id, "order-1")) == saved
    assert find_idempotent(uow(), FindIdempotent(key_id, "order-1", "h1")) == saved
    # the same request again (a retry racing the first): the first response stays
    again = save_idempotent(worker.uow(), SaveIdempotent(key_id, "order-1", "h1", 500, "{}"))
    assert again == saved
    with pytest.raises(Conflict, match="order-1"):
        save_idempotent(uow(), SaveIdempotent(key_id, "order-1", "h2", 201, "{}"))
    with pytest.raises(Conflict):
        find_idempotent(uow(), FindIdempotent(key_id, "order-1", "h2"))
    # idempotency keys are per API key
    assert find_idempotent(uow(), FindIdempotent(other, "order-1")) is None
    mine = save_idempotent(uow(), SaveIdempotent(other, "order-1", "h2", 202, "[]"))
    assert mine.request_hash == "h2"
    with pytest.raises(InvalidValue, match="Idempotency-Key"):
        save_idempotent(uow(), SaveIdempotent(key_id, "x" * 256, "h", 201, "{}"))


def test_racing_workers_store_one_idempotency_record(platform: Platform, worker: Platform) -> None:
    key_id = _new(platform)[4:16]
    results: list[int] = []
    barrier = threading.Barrier(4)

    def save(p: Platform, status: int) -> None:
        barrier.wait()
        record = save_idempotent(p.uow(), SaveIdempotent(key_id, "race", "same", status, "{}"))
        results.append(record.status_code)

    threads = [threading.Thread(target=save, args=(p, 200 + i))
               for i, p in enumerate((platform, worker) * 2)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1  # every racer got the one stored record
    with platform.engine.connect() as conn:
        i = idempotency_records.c
        n = conn.execute(select(func.count()).where(i.key_id == key_id)).scalar_one()
    assert n == 1


# -- the ``keys`` commands -----------------------------------------------------------------------
runner = CliRunner()


@pytest.fixture
def cli_store(api_platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI on a copy of the scenario's store (it runs on the system clock)."""
    import shutil

    path = tmp_path / "cli.db"
    source = api_platform.engine.url.database
    assert source is not None
    api_platform.engine.dispose()  # checkpoint the WAL so the copy is complete
    shutil.copy(source, path)
    monkeypatch.setenv("XBORDER_DATABASE_URL", f"sqlite:///{path}")
    return path


def _invoke(*args: str) -> tuple[int, str, str]:
    from xborder.cli.keys import app

    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _fits(text: str) -> None:
    assert all(len(line) <= 80 for line in text.splitlines()), text


def test_keys_create_list_revoke_on_the_command_line(cli_store: Path) -> None:
    scopes = ("--scope", "orders:read", "--scope", "orders:write")
    code, out, err = _invoke("create", "seller-sz-gadgets", "--role", "seller", *scopes,
                             "--label", "shop sync")  # fmt: skip
    assert code == 0, out + err
    _fits(out)
    token = out.strip().splitlines()[-1]
    assert TOKEN_PATTERN.fullmatch(token)
    assert "not shown again" in err
    assert "orders:read, orders:write" in out
    key_id = token[4:16]

    code, out, err = _invoke("create", "operator", "--role", "operator", "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["role"] == "operator" and len(created["scopes"]) == len(SCOPES)
    assert TOKEN_PATTERN.fullmatch(created["token"])

    code, out, err = _invoke("list")
    assert code == 0, err
    _fits(out)
    assert key_id in out and "seller-sz-gadgets" in out and "active" in out
    assert token not in out and created["token"] not in out

    code, out, err = _invoke("revoke", key_id)
    assert code == 0, err
    _fits(out)
    assert f"key {key_id} of seller-sz-gadgets revoked at" in out

    code, out, err = _invoke("list", "--json")
    listed = {k["key_id"]: k for k in json.loads(out)}
    assert listed[key_id]["active"] is False and listed[key_id]["revoked_at"]
    assert listed[key_id]["scopes"] == ["orders:read", "orders:write"]
    assert listed[created["key_id"]]["active"] is True
    assert "token" not in listed[key_id] and token not in out

    code, out, err = _invoke("list", "--verbose")
    _fits(out)
    assert code == 0 and "revoked" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "no-such-party", "--role", "seller"], "no-such-party"),
        (["create", "seller-sz-gadgets", "--role", "seller", "--scope", "orders:eat"],
         "scope: unknown scope"),
        (["create", "seller-sz-gadgets", "--role", "seller", "--scope", "plans:write"],
         "not allowed for role seller"),
        (["create", "seller-sz-gadgets", "--role", "wizard"], "role: unknown role"),
        (["create", "lp-meridian-express", "--role", "seller"], "not a seller"),
        (["revoke", "0123456789ab"], "0123456789ab"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_reason_and_no_traceback(
    cli_store: Path, args: list[str], says: str
) -> None:
    code, out, err = _invoke(*args)
    assert code == 2, out + err
    assert says in err and "Traceback" not in out + err and "xbk_" not in out
