"""Delivering webhooks: sign each attempt, send it through the ``WebhookSender`` port, log it,
and settle or reschedule the notification (``docs/webhooks.md``).

Sending happens outside any transaction: the due notifications are first claimed under a lease
(their next attempt moves past the batch's worst-case duration, and PostgreSQL skips rows another
deliverer holds), then sent, then every attempt is logged in one transaction. A crash between
sending and logging re-sends after the lease: delivery is at least once, and receivers dedupe on
``XB-Webhook-Id``. Failures wait a capped exponential backoff with full jitter drawn from a
digest of (seed, notification, attempt), so the same clock replays the same schedule.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from xborder.domain.errors import InvalidValue
from xborder.services.ports import SendResult, WebhookSender
from xborder.store.uow import UnitOfWork

HEADER_ID, HEADER_TIMESTAMP = "XB-Webhook-Id", "XB-Webhook-Timestamp"
HEADER_SIGNATURE, HEADER_ATTEMPT = "XB-Webhook-Signature", "XB-Webhook-Attempt"
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)
MIN_DELAY = timedelta(seconds=1)
MAX_ATTEMPTS = 15


# --- signing ----------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256, keyed by the secret's UTF-8 bytes, over ``b"<ts>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(
    secret: str, delivery_id: str, at: datetime, body: bytes, attempt: int
) -> dict[str, str]:
    """The headers of one attempt; the timestamp (Unix seconds) is the attempt's own."""
    ts = int(at.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "xborder-webhooks/1",
        HEADER_ID: delivery_id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: sign(secret, ts, body),
        HEADER_ATTEMPT: str(attempt),
    }


def backoff(delivery_id: str, failures: int, seed: int = 0) -> timedelta:
    """The wait after the ``failures``-th failed attempt: full jitter under a ceiling of
    30 s x 2^(failures-1), capped at 6 h, at least 1 s. The jitter is a digest of (seed, id,
    failures) read as a fraction in [0, 1): deterministic, yet different per notification."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(failures - 1, 0))
    digest = hashlib.sha256(f"{seed}:{delivery_id}:{failures}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    ms = int(ceiling / timedelta(milliseconds=1) * fraction)
    return max(MIN_DELAY, timedelta(milliseconds=ms))


# --- delivering -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliverDue:
    """Send up to ``batch`` due notifications through ``sender``; a notification that failed
    ``max_attempts`` times is dead. ``seed`` varies the jitter."""

    sender: WebhookSender
    batch: int = 100
    timeout_s: float = 10.0
    max_attempts: int = MAX_ATTEMPTS
    seed: int = 0


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    delivery_id: str
    attempt: int
    status_code: int | None
    error: str | None
    outcome: str  # delivered | retry | dead
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    attempted: int
    delivered: int
    retrying: int
    dead: int
    outcomes: list[AttemptOutcome] = field(default_factory=list)


def _failure(result: SendResult) -> str | None:
    if result.status_code is not None and 200 <= result.status_code < 300:
        return None
    if result.error:
        return result.error[:500]
    return f"HTTP {result.status_code}" if result.status_code is not None else "no answer"


def deliver_due(uow: UnitOfWork, command: DeliverDue) -> DeliveryReport:
    """Claim what is due (leased, so that concurrent deliverers skip it), send it outside any
    transaction, then log every attempt and settle or reschedule each notification."""
    if command.batch < 1 or command.max_attempts < 1 or command.timeout_s <= 0:
        raise InvalidValue("batch", "batch, max_attempts and timeout_s must be positive")
    lease = timedelta(seconds=command.timeout_s * command.batch + 60)
    with uow:
        now = uow.clock.now()
        due = uow.webhooks.claim_due(now, command.batch, now + lease)
        uow.commit()
    sent: list[tuple[dict[str, Any], datetime, SendResult]] = []
    for item in due:
        at = uow.clock.now()
        body = str(item["payload_json"]).encode()
        attempt = int(item["attempts"]) + 1
        headers = signed_headers(item["secret"], item["id"], at, body, attempt)
        sent.append((item, at, command.sender.send(item["url"], headers, body, command.timeout_s)))
    outcomes: list[AttemptOutcome] = []
    with uow:
        for item, at, result in sent:
            outcomes.append(_settle(uow, command, item, at, result))
        uow.commit()
    counts = Counter(o.outcome for o in outcomes)
    return DeliveryReport(
        len(outcomes), counts["delivered"], counts["retry"], counts["dead"], outcomes
    )


def _settle(
    uow: UnitOfWork, command: DeliverDue, item: dict[str, Any], at: datetime, result: SendResult
) -> AttemptOutcome:
    attempt = int(item["attempts"]) + 1
    error = _failure(result)
    log = {
        "outbox_id": item["id"],
        "attempt": attempt,
        "attempted_at": at,
        "status_code": result.status_code,
        "error": error,
        "duration_ms": max(0, int(result.duration_ms)),
    }
    done = uow.clock.now()
    if error is None:
        uow.webhooks.record_attempt(log, attempts=attempt, next_attempt_at=None, delivered_at=done)
        return AttemptOutcome(item["id"], attempt, result.status_code, None, "delivered", None)
    if attempt >= command.max_attempts:
        uow.webhooks.record_attempt(log, attempts=attempt, next_attempt_at=None, dead_at=done)
        return AttemptOutcome(item["id"], attempt, result.status_code, error, "dead", None)
    later = done + backoff(item["id"], attempt, command.seed)
    uow.webhooks.record_attempt(log, attempts=attempt, next_attempt_at=later)
    return AttemptOutcome(item["id"], attempt, result.status_code, error, "retry", later)


# --- the delivery log -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliveryLog:
    limit: int = 50
    party_id: str | None = None  # None: every party's (the operator)
    subscription_id: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedAttempt:
    delivery_id: str
    subscription_id: str
    party_id: str
    url: str
    event_type: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    state: str  # the notification's state now: delivered | retrying | dead


def delivery_log(uow: UnitOfWork, command: DeliveryLog) -> list[LoggedAttempt]:
    """The latest attempts, newest first."""
    if command.limit < 1:
        raise InvalidValue("limit", "must be at least 1", command.limit)
    with uow:
        rows = uow.webhooks.attempts_log(command.limit, command.party_id, command.subscription_id)
    return [
        LoggedAttempt(
            r["outbox_id"],
            r["subscription_id"],
            r["party_id"],
            r["url"],
            r["event_type"],
            int(r["attempt"]),
            r["attempted_at"],
            r["status_code"],
            r["error"],
            int(r["duration_ms"]),
            "delivered" if r["delivered_at"] else "dead" if r["dead_at"] else "retrying",
        )
        for r in rows
    ]
