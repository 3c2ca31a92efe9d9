"""Signed outgoing webhooks against a real HTTP receiver on loopback (SQLite and PostgreSQL).

The receiver is a ``http.server`` in a thread; it checks every signature with the recipe of
``docs/webhooks.md``, written here independently of the service (``hmac.new(secret,
f"{ts}.".encode() + body, sha256)``), and answers per path: always 200, 500 for the first two
attempts of each notification, or always 503. Backoff times are recomputed here from the
documented formula and compared with the stored schedule on the test's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import DateTime, Engine, select
from typer.testing import CliRunner

from tests.simulation.conftest import packed_and_bagged, step_on, utc, world_platform
from xborder.adapters.webhook_http import HttpWebhookSender
from xborder.bootstrap import Platform
from xborder.cli.webhooks import app
from xborder.domain.clock import SettableClock
from xborder.domain.errors import Forbidden, InvalidValue, NotFound
from xborder.domain.lifecycle import Step
from xborder.domain.world import World
from xborder.services.access import ApiRole, Principal
from xborder.services.webhooks import (
    EXCEPTION,
    STATUS_CHANGED,
    DeliverDue,
    DeliveryLog,
    DisableSubscription,
    EnqueueChanges,
    ListSubscriptions,
    Subscribe,
    backoff,
    deliver_due,
    delivery_log,
    disable_subscription,
    enqueue_parcel_changes,
    list_subscriptions,
    subscribe,
)
from xborder.store.engine import make_engine
from xborder.store.schema import lanes, orders, parties
from xborder.store.schema_planning import consolidations
from xborder.store.schema_planning import parcels as parcel_table
from xborder.store.schema_webhooks import webhook_attempts, webhook_outbox, webhook_subscriptions

SENDER = HttpWebhookSender(allow_private=True)  # the receiver is on loopback


# --- the receiver -------------------------------------------------------------------------------
class Receiver:
    """Records every request; answers by path: /ok 200, /flaky 500 twice per id then 200,
    /down 503, /moved 302 to /ok (which must not be followed)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.tries: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ident = self.headers["XB-Webhook-Id"]
                with receiver.lock:
                    receiver.tries[ident] += 1
                    tries = receiver.tries[ident]
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                if self.path == "/ok" or (self.path == "/flaky" and tries > 2):
                    code = 200
                elif self.path == "/flaky":
                    code = 500
                elif self.path == "/moved":
                    code = 302
                else:
                    code = 503
                self.send_response(code)
                if code == 302:
                    self.send_header("Location", "/ok")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def verify(secret: str, headers: dict[str, str], body: bytes, now: datetime) -> bool:
    """The documented recipe: HMAC-SHA256 keyed by the secret over ``<timestamp>.<body>``,
    compared in constant time; timestamps older than five minutes are refused."""
    ts = headers["XB-Webhook-Timestamp"]
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    given = headers["XB-Webhook-Signature"].removeprefix("v1=")
    fresh = abs(now.timestamp() - int(ts)) <= 300
    return fresh and hmac.compare_digest(expected, given)


def expected_backoff(delivery_id: str, failures: int, seed: int = 0) -> timedelta:
    """docs/webhooks.md: full jitter under min(6 h, 30 s * 2^(failures-1)), at least 1 s; the
    fraction is the first 8 bytes of SHA-256("<seed>:<id>:<failures>") over 2^64."""
    ceiling_ms = min(6 * 3600 * 1000, 30_000 * 2 ** (failures - 1))
    digest = hashlib.sha256(f"{seed}:{delivery_id}:{failures}".encode()).digest()
    ms = int(ceiling_ms * (int.from_bytes(digest[:8], "big") / 2**64))
    return timedelta(milliseconds=max(1000, ms))


# --- the store ------------------------------------------------------------------------------------
@pytest.fixture
def sim(engine: Engine, demo_world: World) -> tuple[Platform, SettableClock]:
    platform, clock = world_platform(engine, demo_world)
    packed_and_bagged(platform, clock, demo_world)
    return platform, clock


def rows(platform: Platform, table: Any) -> list[dict[str, Any]]:
    with platform.uow() as uow:
        return [dict(r._mapping) for r in uow.connection.execute(select(table))]


def a_bag(platform: Platform) -> tuple[str, list[dict[str, Any]]]:
    """The bag with the most parcels: its SSCC and its parcels with seller and lane carrier."""
    p, o, ln = parcel_table.c, orders.c, lanes.c
    with platform.uow() as uow:
        found = [
            dict(r._mapping)
            for r in uow.connection.execute(
                select(
                    p.tracking_no,
                    p.order_id,
                    p.consolidation_id,
                    o.seller_id,
                    ln.carrier_id.label("carrier"),
                )
                .join(orders, o.id == p.order_id)
                .join(lanes, ln.id == p.lane_id)
                .where(p.consolidation_id.is_not(None))
            )
        ]
        by_bag: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in found:
            by_bag[row["consolidation_id"]].append(row)
        bag = max(by_bag, key=lambda b: (len(by_bag[b]), b))
        sscc = uow.connection.execute(
            select(consolidations.c.sscc).where(consolidations.c.id == bag)
        ).scalar_one()
    return str(sscc), by_bag[bag]


def sellers(platform: Platform) -> list[str]:
    with platform.uow() as uow:
        return sorted(
            str(i)
            for i, roles in uow.connection.execute(select(parties.c.id, parties.c.roles))
            if "seller" in roles.split(",")
        )


# --- pure pieces ----------------------------------------------------------------------------------
def test_backoff_is_capped_full_jitter_and_deterministic() -> None:
    for n in range(1, 20):
        ceiling = min(timedelta(hours=6), timedelta(seconds=30) * 2 ** (n - 1))
        values = [backoff(f"whe_{i}", n) for i in range(200)]
        assert all(timedelta(seconds=1) <= v <= ceiling for v in values), n
        assert values == [expected_backoff(f"whe_{i}", n) for i in range(200)]
        assert len(set(values)) > 150, "jitter spreads notifications apart"
    assert max(backoff(f"whe_{i}", 12) for i in range(200)) > timedelta(hours=5)  # near the cap
    assert backoff("whe_x", 3, seed=1) != backoff("whe_x", 3, seed=2)


def test_subscribe_refuses_bad_urls_types_and_roles(
    sqlite_engine: Engine, demo_world: World
) -> None:
    platform, _clock = world_platform(sqlite_engine, demo_world)
    seller = sellers(platform)[0]
    for url in (
        "ftp://example.com/x",
        "file:///etc/passwd",
        "example.com/x",
        "https://",
        "https://user:pw@example.com/",
    ):
        with pytest.raises(InvalidValue):
            subscribe(platform.uow(), Subscribe(seller, url))
    with pytest.raises(InvalidValue):
        subscribe(platform.uow(), Subscribe(seller, "https://example.com/", ("order.created",)))
    with pytest.raises(NotFound):
        subscribe(platform.uow(), Subscribe("nobody", "https://example.com/"))
    broker = next(p.id for p in demo_world.parties if "customs_broker" in p.roles)
    with pytest.raises(InvalidValue, match="role"):  # a broker sees no parcels
        subscribe(platform.uow(), Subscribe(broker, "https://example.com/"))
    with pytest.raises(InvalidValue, match="role"):  # a seller is not a carrier
        subscribe(platform.uow(), Subscribe(seller, "https://example.com/", role=ApiRole.CARRIER))
    reader = Principal("k1", seller, ApiRole.SELLER, frozenset({"orders:read"}))
    with pytest.raises(Forbidden):
        Subscribe.for_principal(reader, "https://example.com/")
    assert rows(platform, webhook_subscriptions) == []


def test_http_sender_refuses_schemes_private_hosts_and_redirects(receiver: Receiver) -> None:
    strict = HttpWebhookSender()
    for url in ("ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://x/"):
        result = strict.send(url, {}, b"{}", 2.0)
        assert result.status_code is None and "refused" in (result.error or "")
    result = strict.send(receiver.url("/ok"), {"XB-Webhook-Id": "a"}, b"{}", 2.0)
    assert result.status_code is None and "non-public" in (result.error or "")
    assert receiver.requests == []  # nothing left the process
    moved = SENDER.send(receiver.url("/moved"), {"XB-Webhook-Id": "b"}, b"{}", 2.0)
    assert moved.status_code == 302 and moved.error is None
    assert [r["path"] for r in receiver.requests] == ["/moved"]  # the redirect was not followed
    closed = SENDER.send("http://127.0.0.1:9/", {"XB-Webhook-Id": "c"}, b"{}", 2.0)
    assert closed.status_code is None and closed.error


# --- the whole story ----------------------------------------------------------------------------
def test_enqueue_deliver_retry_dead_and_log(
    sim: tuple[Platform, SettableClock], receiver: Receiver
) -> None:
    platform, clock = sim
    sscc, inside = a_bag(platform)
    seller = inside[0]["seller_id"]
    carrier = inside[0]["carrier"]
    stranger = next(s for s in sellers(platform) if s not in {r["seller_id"] for r in inside})
    mine = [r for r in inside if r["seller_id"] == seller]
    held = mine[0]["tracking_no"]
    with platform.uow() as uow:  # the stranger's parcels elsewhere must stay silent too
        p, o = parcel_table.c, orders.c
        theirs = (
            uow.connection.execute(
                select(p.tracking_no)
                .join(orders, o.id == p.order_id)
                .where(o.seller_id == stranger)
            )
            .scalars()
            .all()
        )
    assert not set(theirs) & {r["tracking_no"] for r in inside}

    subs = {
        "operator": subscribe(platform.uow(), Subscribe("operator", receiver.url("/flaky"))),
        "seller": subscribe(
            platform.uow(), Subscribe(seller, receiver.url("/ok"), role=ApiRole.SELLER)
        ),
        "carrier": subscribe(
            platform.uow(),
            Subscribe(carrier, receiver.url("/down"), (STATUS_CHANGED,), ApiRole.CARRIER),
        ),
        "stranger": subscribe(
            platform.uow(), Subscribe(stranger, receiver.url("/ok"), role=ApiRole.SELLER)
        ),
    }
    assert all(s.secret and s.secret.startswith("whsec_") for s in subs.values())
    listed = list_subscriptions(platform.uow(), ListSubscriptions())
    assert {s.id for s in listed} == {s.id for s in subs.values()}
    assert all(s.secret is None for s in listed)  # shown once, at creation only
    assert [s.id for s in list_subscriptions(platform.uow(), ListSubscriptions(seller))] == [
        subs["seller"].id
    ]

    # Packing and bagging happened before anyone subscribed: nothing to tell.
    first = enqueue_parcel_changes(platform.uow(), EnqueueChanges())
    assert first.enqueued == 0 and rows(platform, webhook_outbox) == []

    step_on(platform, clock, (sscc, Step.DEPARTED))
    departed_at = clock.now()
    step_on(platform, clock, (sscc, Step.ARRIVED))
    step_on(platform, clock, (sscc, Step.DECONSOLIDATED))
    step_on(platform, clock, (held, Step.IMPORT_HELD))
    held_at = clock.now()

    report = enqueue_parcel_changes(platform.uow(), EnqueueChanges(batch=2))  # several batches
    n = len(inside)
    expect = {
        "operator": 2 * n + 2,  # departed + arrived per parcel; held: a status and an exception
        "seller": 2 * len(mine) + 2,
        "carrier": 2 * n + 1,  # status changes only
        "stranger": 0,
    }
    box = rows(platform, webhook_outbox)
    per_sub = Counter(r["subscription_id"] for r in box)
    assert {k: per_sub[s.id] for k, s in subs.items()} == expect
    assert report.enqueued == sum(expect.values())
    assert report.by_type == {
        STATUS_CHANGED: sum(expect.values()) - 2,
        EXCEPTION: 2,  # the operator's and the seller's (the carrier took status changes only)
    }
    # Idempotent: again, and a full re-scan from the start of the ledger, add nothing.
    assert enqueue_parcel_changes(platform.uow(), EnqueueChanges()).enqueued == 0
    assert enqueue_parcel_changes(platform.uow(), EnqueueChanges(since_event_id=0)).enqueued == 0
    assert len(rows(platform, webhook_outbox)) == len(box)

    payloads = {r["id"]: json.loads(r["payload_json"]) for r in box}
    sub_of = {r["id"]: r["subscription_id"] for r in box}
    for ident, body in payloads.items():
        assert body["id"] == ident and body["type"] in (STATUS_CHANGED, EXCEPTION)
        assert set(body["data"]) <= {"tracking_no", "status", "status_at", "order_id", "exception"}
        has_order = "order_id" in body["data"]
        assert has_order == (sub_of[ident] != subs["carrier"].id), body  # carriers: no order id
    seller_bodies = [b for i, b in payloads.items() if sub_of[i] == subs["seller"].id]
    assert {b["data"]["tracking_no"] for b in seller_bodies} == {r["tracking_no"] for r in mine}
    exception = next(b for b in seller_bodies if b["type"] == EXCEPTION)
    assert exception["data"] == {
        "tracking_no": held,
        "status": "import_held",
        "order_id": int(mine[0]["order_id"]),
        "status_at": held_at.isoformat(timespec="milliseconds"),
        "exception": {"kind": "customs_hold"},
    }
    departed = next(b for b in seller_bodies if b["data"]["status"] == "departed")
    assert departed["data"]["status_at"] == departed_at.isoformat(timespec="milliseconds")

    # Round 1: the seller's receiver takes everything; the others fail.
    t0 = clock.now()
    r1 = deliver_due(platform.uow(), DeliverDue(SENDER, batch=1000, max_attempts=3))
    total = sum(expect.values())
    assert (r1.attempted, r1.delivered) == (total, expect["seller"])
    assert r1.retrying == expect["operator"] + expect["carrier"] and r1.dead == 0
    secrets = {s.id: s.secret for s in subs.values()}
    bodies: dict[str, bytes] = {}
    for req in receiver.requests:
        h = req["headers"]
        ident = h["XB-Webhook-Id"]
        assert verify(str(secrets[sub_of[ident]]), h, req["body"], clock.now()), ident
        assert int(h["XB-Webhook-Timestamp"]) == int(t0.timestamp())
        assert json.loads(req["body"]) == payloads[ident]
        bodies[ident] = req["body"]
    forged = dict(receiver.requests[0]["headers"])
    assert not verify("whsec_wrong", forged, receiver.requests[0]["body"], clock.now())
    assert not verify(
        str(secrets[sub_of[forged["XB-Webhook-Id"]]]),
        forged,
        receiver.requests[0]["body"] + b" ",
        clock.now(),
    )
    assert not verify(
        str(secrets[sub_of[forged["XB-Webhook-Id"]]]),
        forged,
        receiver.requests[0]["body"],
        clock.now() + timedelta(minutes=6),
    )

    def schedule() -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in rows(platform, webhook_outbox)}

    after1 = schedule()
    for ident, row in after1.items():
        if sub_of[ident] == subs["seller"].id:
            assert utc(row["delivered_at"]) == t0 and row["next_attempt_at"] is None
            assert row["attempts"] == 1
        else:
            assert row["attempts"] == 1 and row["delivered_at"] is None
            assert utc(row["next_attempt_at"]) == t0 + expected_backoff(ident, 1)

    # Nothing is due before its time; each retry comes at its computed moment.
    assert deliver_due(platform.uow(), DeliverDue(SENDER, max_attempts=3)).attempted == 0
    clock.advance(timedelta(seconds=30))  # the first ceiling: every first retry is due
    t1 = clock.now()
    r2 = deliver_due(platform.uow(), DeliverDue(SENDER, batch=1000, max_attempts=3))
    assert (r2.attempted, r2.delivered, r2.dead) == (total - expect["seller"], 0, 0)
    after2 = schedule()
    for ident, row in after2.items():
        if sub_of[ident] != subs["seller"].id:
            assert row["attempts"] == 2
            assert utc(row["next_attempt_at"]) == t1 + expected_backoff(ident, 2)
    clock.advance(timedelta(seconds=60))
    t2 = clock.now()
    r3 = deliver_due(platform.uow(), DeliverDue(SENDER, batch=1000, max_attempts=3))
    assert (r3.delivered, r3.dead) == (expect["operator"], expect["carrier"])
    after3 = schedule()
    for ident, row in after3.items():
        if sub_of[ident] == subs["operator"].id:  # third time lucky
            assert utc(row["delivered_at"]) == t2 and row["attempts"] == 3
        elif sub_of[ident] == subs["carrier"].id:  # gave up after three
            assert utc(row["dead_at"]) == t2 and row["attempts"] == 3
            assert row["delivered_at"] is None and row["next_attempt_at"] is None
    clock.advance(timedelta(hours=7))
    assert deliver_due(platform.uow(), DeliverDue(SENDER, max_attempts=3)).attempted == 0

    # The same bytes on every attempt; the receiver saw each id as often as the log says.
    for req in receiver.requests:
        assert req["body"] == bodies[req["headers"]["XB-Webhook-Id"]]
    attempts = rows(platform, webhook_attempts)
    assert Counter(a["outbox_id"] for a in attempts) == receiver.tries
    assert len(attempts) == expect["seller"] + 3 * (expect["operator"] + expect["carrier"])
    for a in attempts:
        mode = sub_of[a["outbox_id"]]
        if mode == subs["carrier"].id:
            assert (a["status_code"], a["error"]) == (503, "HTTP 503")
        elif mode == subs["operator"].id and a["attempt"] < 3:
            assert (a["status_code"], a["error"]) == (500, "HTTP 500")
        else:
            assert (a["status_code"], a["error"]) == (200, None)
        assert a["duration_ms"] >= 0
    log = delivery_log(platform.uow(), DeliveryLog(limit=3, party_id=seller))
    assert len(log) == 3 and {e.party_id for e in log} == {seller}
    assert all(e.state == "delivered" and e.status_code == 200 for e in log)
    newest = delivery_log(platform.uow(), DeliveryLog(limit=1000))
    assert len(newest) == len(attempts)
    assert [e.attempted_at for e in newest] == sorted(
        (e.attempted_at for e in newest), reverse=True
    )
    assert {e.state for e in newest if e.subscription_id == subs["carrier"].id} == {"dead"}

    # Nothing stored is dated after the clock.
    now = clock.now()
    for table in (webhook_subscriptions, webhook_outbox, webhook_attempts):
        for row in rows(platform, table):
            for column in table.columns:
                if isinstance(column.type, DateTime) and row[column.name] is not None:
                    assert utc(row[column.name]) <= now, (table.name, column.name)


def test_disabled_subscriptions_hear_nothing_more(
    sim: tuple[Platform, SettableClock], receiver: Receiver
) -> None:
    platform, clock = sim
    sscc, inside = a_bag(platform)
    sub = subscribe(platform.uow(), Subscribe("operator", receiver.url("/ok")))
    step_on(platform, clock, (sscc, Step.DEPARTED))
    assert enqueue_parcel_changes(platform.uow()).enqueued == len(inside)
    seller = inside[0]["seller_id"]
    with pytest.raises(NotFound):  # another party's subscription does not exist for it
        disable_subscription(platform.uow(), DisableSubscription(sub.id, party_id=seller))
    done = disable_subscription(platform.uow(), DisableSubscription(sub.id))
    assert done.disabled_at == clock.now()
    assert deliver_due(platform.uow(), DeliverDue(SENDER)).attempted == 0
    step_on(platform, clock, (sscc, Step.ARRIVED))
    assert enqueue_parcel_changes(platform.uow()).enqueued == 0
    assert receiver.requests == []


def test_claimed_notifications_are_leased(
    sim: tuple[Platform, SettableClock], receiver: Receiver
) -> None:
    """A deliverer claims what is due and moves it past the lease, so a second deliverer
    running at the same time finds nothing to send twice."""
    platform, clock = sim
    sscc, inside = a_bag(platform)
    subscribe(platform.uow(), Subscribe("operator", receiver.url("/ok")))
    step_on(platform, clock, (sscc, Step.DEPARTED))
    enqueue_parcel_changes(platform.uow())
    now = clock.now()
    with platform.uow() as uow:
        claimed = uow.webhooks.claim_due(now, 1000, now + timedelta(minutes=5))
        uow.commit()
    assert len(claimed) == len(inside)
    assert deliver_due(platform.uow(), DeliverDue(SENDER)).attempted == 0
    clock.advance(timedelta(minutes=5))  # the lease ran out (the claimer died): sent again
    assert deliver_due(platform.uow(), DeliverDue(SENDER, batch=1000)).delivered == len(inside)


# --- the command line -----------------------------------------------------------------------------
def test_cli_subscribe_list_log(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch, demo_world: World
) -> None:
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    world_platform(engine, demo_world)
    engine.dispose()
    monkeypatch.setenv("XBORDER_DATABASE_URL", f"sqlite:///{path}")
    runner = CliRunner()
    seller = next(p.id for p in demo_world.parties if list(p.roles) == ["seller"])
    made = runner.invoke(app, ["subscribe", seller, "https://hooks.example.com/xb", "--json"])
    assert made.exit_code == 0, made.output
    secret = json.loads(made.stdout)["secret"]
    assert secret.startswith("whsec_")
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and seller in listed.stdout
    assert secret not in listed.stdout and "hooks.example.com" in listed.stdout
    assert all(len(line) <= 80 for line in listed.stdout.splitlines())
    bad = runner.invoke(app, ["subscribe", seller, "ftp://x/"])
    assert bad.exit_code == 2 and "url" in bad.output and "Traceback" not in bad.output
    log = runner.invoke(app, ["log"])
    assert log.exit_code == 0 and "No delivery attempts yet." in log.stdout
    once = runner.invoke(app, ["deliver", "--json"])
    assert once.exit_code == 0, once.output
    assert json.loads(once.stdout.splitlines()[-1])["sent"] == 0
