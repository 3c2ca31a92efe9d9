"""Signed outgoing webhooks: parcel state changes and exceptions, pushed to the parties that may
see them, with retries, backoff and a delivery log (``docs/webhooks.md``).

Why an outbox derived from the ledger: the lifecycle use cases stay unaware of webhooks. Every
parcel step is an event of the trace ledger, whose ids grow in commit order, so
``enqueue_parcel_changes`` reads the events after each subscription's cursor, turns them into
notifications set-wise and inserts them under a key per (subscription, parcel, status, time).
Running it twice, or again after a crash, adds nothing. ``deliver_due``
(``services/webhook_delivery.py``, re-exported here) then signs, sends, logs and retries.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from xborder.domain.errors import InvalidValue, NotFound
from xborder.domain.lifecycle import STATE_AFTER
from xborder.services.access import OPERATOR_PARTY, WORLD_ROLES, ApiRole, Principal
from xborder.services.ports import WebhookSender
from xborder.services.webhook_delivery import (
    HEADER_ATTEMPT,
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_ATTEMPTS,
    AttemptOutcome,
    DeliverDue,
    DeliveryLog,
    DeliveryReport,
    LoggedAttempt,
    backoff,
    deliver_due,
    delivery_log,
    sign,
    signed_headers,
)
from xborder.store.uow import UnitOfWork
from xborder.trace.exceptions import ExceptionKind
from xborder.trace.lifecycle import CUSTOMS_HOLD_DISPOSITIONS, LIFECYCLE, Step, step_of

STATUS_CHANGED = "parcel.status_changed"
EXCEPTION = "parcel.exception"
EVENT_TYPES = (STATUS_CHANGED, EXCEPTION)
# Roles whose tenant filter reaches parcels (brokers and payment providers see none).
SUBSCRIBING_ROLES = (
    ApiRole.OPERATOR,
    ApiRole.SELLER,
    ApiRole.PLATFORM,
    ApiRole.CARRIER,
    ApiRole.WAREHOUSE,
)
ORDER_ROLES = frozenset({ApiRole.OPERATOR, ApiRole.SELLER, ApiRole.PLATFORM})  # see order ids
_EXCEPTION_OF = {
    LIFECYCLE[Step.DAMAGED].disposition: ExceptionKind.DAMAGE,
    LIFECYCLE[Step.LOST].disposition: ExceptionKind.LOSS,
    **{d: ExceptionKind.CUSTOMS_HOLD for d in CUSTOMS_HOLD_DISPOSITIONS},
}


# --- subscriptions ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe ``party_id`` (acting as ``role``; default: the one role its world roles give,
    operator for ``"operator"``) to ``event_types`` at ``url``."""

    party_id: str
    url: str
    event_types: tuple[str, ...] = EVENT_TYPES
    role: ApiRole | None = None

    @classmethod
    def for_principal(
        cls, principal: Principal, url: str, event_types: tuple[str, ...] = EVENT_TYPES
    ) -> Subscribe:
        """What an API caller may subscribe: its own party, under its key's role."""
        principal.require("webhooks:manage")
        return cls(principal.party_id, url, event_types, principal.role)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    party_id: str
    role: str
    url: str
    event_types: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None = None
    secret: str | None = None  # only in subscribe's answer: shown once

    @classmethod
    def of(cls, row: dict[str, Any], secret: str | None = None) -> Subscription:
        return cls(
            row["id"],
            row["party_id"],
            row["role"],
            row["url"],
            tuple(row["event_types"].split(",")),
            row["created_at"],
            row["disabled_at"],
            secret,
        )


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials (``InvalidValue`` otherwise)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise InvalidValue("url", "must be an http or https URL", url)
    if not parts.hostname:
        raise InvalidValue("url", "has no host", url)
    if parts.username or parts.password:
        raise InvalidValue("url", "must not carry credentials (the signature authenticates)")
    return url.strip()


def _role(uow: UnitOfWork, party_id: str, role: ApiRole | None) -> ApiRole:
    if party_id == OPERATOR_PARTY:
        if role not in (None, ApiRole.OPERATOR):
            raise InvalidValue("role", f"the {OPERATOR_PARTY} party subscribes as operator")
        return ApiRole.OPERATOR
    held = uow.webhooks.party_roles(party_id)
    if held is None:
        raise NotFound(f"no party {party_id!r}")
    fits = [r for r in SUBSCRIBING_ROLES if r in WORLD_ROLES and WORLD_ROLES[r] & held]
    if role is None:
        if len(fits) != 1:
            names = ", ".join(r.value for r in fits) or "none that sees parcels"
            raise InvalidValue("role", f"party {party_id} acts as {names}: name one")
        return fits[0]
    if role not in fits:
        raise InvalidValue(
            "role",
            f"party {party_id} cannot subscribe as {role.value}: webhooks "
            "report parcels, and the party holds no role that sees them as that",
        )
    return role


def subscribe(uow: UnitOfWork, command: Subscribe) -> Subscription:
    """Create a subscription and its secret, returned here once. It hears of facts recorded
    from now on."""
    url = check_url(command.url)
    kinds = sorted(set(command.event_types))
    for kind in kinds:
        if kind not in EVENT_TYPES:
            raise InvalidValue("event_types", f"unknown; use {', '.join(EVENT_TYPES)}", kind)
    if not kinds:
        raise InvalidValue("event_types", "name at least one event type")
    with uow:
        role = _role(uow, command.party_id, command.role)
        start = uow.webhooks.last_event_id()
        secret = f"whsec_{secrets.token_urlsafe(32)}"
        row: dict[str, Any] = {
            "id": f"whs_{secrets.token_hex(6)}",
            "party_id": command.party_id,
            "role": role.value,
            "url": url,
            "secret": secret,
            "event_types": ",".join(kinds),
            "created_at": uow.clock.now(),
            "disabled_at": None,
            "start_event_id": start,
            "cursor_event_id": start,
        }
        uow.webhooks.add_subscription(row)
        uow.commit()
    return Subscription.of(row, secret=secret)


@dataclass(frozen=True, slots=True)
class ListSubscriptions:
    party_id: str | None = None  # None: every party's (the operator)


def list_subscriptions(uow: UnitOfWork, command: ListSubscriptions) -> list[Subscription]:
    with uow:
        return [Subscription.of(r) for r in uow.webhooks.subscriptions(command.party_id)]


@dataclass(frozen=True, slots=True)
class DisableSubscription:
    subscription_id: str
    party_id: str | None = None  # the caller's party; another party's subscription is NotFound


def disable_subscription(uow: UnitOfWork, command: DisableSubscription) -> Subscription:
    """Stop a subscription: nothing more is enqueued or sent for it. Idempotent."""
    with uow:
        row = uow.webhooks.subscription(command.subscription_id)
        if row is None or command.party_id not in (None, row["party_id"]):
            raise NotFound(f"no webhook subscription {command.subscription_id!r}")
        uow.webhooks.disable(command.subscription_id, uow.clock.now())
        row = uow.webhooks.subscription(command.subscription_id)
        uow.commit()
    assert row is not None
    return Subscription.of(row)


# --- enqueueing -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EnqueueChanges:
    """Enqueue what the ledger recorded after each subscription's cursor, ``batch`` events per
    transaction. ``since_event_id`` re-scans from that trace event id instead (a repair; never
    before a subscription's start): notifications already enqueued are not enqueued again."""

    since_event_id: int | None = None
    batch: int = 5_000


@dataclass(frozen=True, slots=True)
class EnqueueReport:
    events: int  # trace events scanned
    enqueued: int  # new notifications
    by_type: dict[str, int] = field(default_factory=dict)
    cursor: int = 0  # the last trace event id scanned


def entitled(role: str, party_id: str, row: dict[str, Any]) -> bool:
    """Whether ``party_id`` acting as ``role`` may see the parcel of ``row`` (the tenant rules
    of the API: a seller its orders' parcels, a marketplace the orders placed on it, a carrier
    the parcels it carries on the line haul or the last mile, a warehouse what it packed)."""
    match ApiRole(role):
        case ApiRole.OPERATOR:
            return True
        case ApiRole.SELLER:
            return bool(row["seller_id"] == party_id)
        case ApiRole.PLATFORM:
            return bool(row["platform_id"] == party_id)
        case ApiRole.CARRIER:
            return party_id in (row["lane_carrier"], row["last_mile_carrier"])
        case ApiRole.WAREHOUSE:
            return bool(row["warehouse_operator"] == party_id)
        case _:
            return False


def _notifications(row: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, key, data) of what one event means for one parcel: the status it sets, and the
    exception (damage, loss, customs hold) it records."""
    step = step_of(row["event_type"], row["action"], row["biz_step"], row["disposition"])
    after = STATE_AFTER[step] if step is not None else None
    if after is None:
        return []
    at_ms = int(row["event_time_ms"])
    at = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds")
    data = {"tracking_no": row["tracking_no"], "status": after.value, "status_at": at}
    key = f"{row['tracking_no']}:{after.value}:{at_ms}"
    out = [(STATUS_CHANGED, f"status:{key}", data)]
    kind = _EXCEPTION_OF.get(row["disposition"])
    if kind is not None:
        out.append(
            (
                EXCEPTION,
                f"exception:{kind.value}:{key}",
                {**data, "exception": {"kind": kind.value}},
            )
        )
    return out


def _delivery_id(subscription_id: str, key: str) -> str:
    return "whe_" + hashlib.sha256(f"{subscription_id}\n{key}".encode()).hexdigest()[:32]


def enqueue_parcel_changes(uow: UnitOfWork, command: EnqueueChanges | None = None) -> EnqueueReport:
    """Turn the ledger's new parcel events into notifications for every active subscription
    entitled to see them; each batch and its cursor move commit together."""
    cmd = command or EnqueueChanges()
    if cmd.batch < 1:
        raise InvalidValue("batch", "must be at least 1", cmd.batch)
    scanned = enqueued = 0
    by_type: Counter[str] = Counter()
    cursor = 0
    rescan = cmd.since_event_id
    while True:
        with uow:
            subs = uow.webhooks.subscriptions(active_only=True)
            if not subs:
                return EnqueueReport(scanned, enqueued, dict(by_type), cursor)
            after_of = {
                s["id"]: int(s["cursor_event_id"])
                if rescan is None
                else max(rescan, int(s["start_event_id"]))
                for s in subs
            }
            low = min(after_of.values())
            high = uow.webhooks.event_range_end(low, cmd.batch)
            if high is None:
                return EnqueueReport(scanned, enqueued, dict(by_type), max(cursor, low))
            now = uow.clock.now()
            rows: list[dict[str, Any]] = []
            for event in uow.webhooks.parcel_events(low, high):
                meaning = _notifications(event)
                for sub in subs:
                    if int(event["event_id"]) <= after_of[sub["id"]] or not meaning:
                        continue
                    if not entitled(sub["role"], sub["party_id"], event):
                        continue
                    for kind, key, data in meaning:
                        if kind in sub["event_types"].split(","):
                            rows.append(_outbox_row(sub, kind, key, data, event, now))
            unique = list({r["id"]: r for r in rows}.values())
            new = set(uow.webhooks.add_outbox(unique))
            uow.webhooks.advance_cursors([s["id"] for s in subs], high)
            uow.commit()
        scanned += high - low
        enqueued += len(new)
        by_type.update(r["event_type"] for r in unique if r["id"] in new)
        cursor = high
        rescan = None if rescan is None else high


def _outbox_row(
    sub: dict[str, Any],
    kind: str,
    key: str,
    data: dict[str, Any],
    event: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    ident = _delivery_id(sub["id"], key)
    body = dict(data)
    if ApiRole(sub["role"]) in ORDER_ROLES and event["order_id"] is not None:
        body["order_id"] = int(event["order_id"])
    payload = {
        "id": ident,
        "type": kind,
        "created_at": now.isoformat(timespec="milliseconds"),
        "data": body,
    }
    return {
        "id": ident,
        "subscription_id": sub["id"],
        "event_type": kind,
        "dedup_key": key,
        "payload_json": json.dumps(payload, separators=(",", ":"), sort_keys=True),
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "delivered_at": None,
        "dead_at": None,
    }


__all__ = [
    "EVENT_TYPES",
    "EXCEPTION",
    "HEADER_ATTEMPT",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MAX_ATTEMPTS",
    "STATUS_CHANGED",
    "AttemptOutcome",
    "DeliverDue",
    "DeliveryLog",
    "DeliveryReport",
    "DisableSubscription",
    "EnqueueChanges",
    "EnqueueReport",
    "ListSubscriptions",
    "LoggedAttempt",
    "Subscribe",
    "Subscription",
    "backoff",
    "check_url",
    "deliver_due",
    "delivery_log",
    "disable_subscription",
    "enqueue_parcel_changes",
    "entitled",
    "http_sender",
    "list_subscriptions",
    "sign",
    "signed_headers",
    "subscribe",
]


def http_sender(allow_private: bool = False) -> WebhookSender:
    """The real sender (``adapters/webhook_http.py``), for entry points that may not import
    adapters themselves; httpx loads only when this is called."""
    from xborder.adapters.webhook_http import HttpWebhookSender

    return HttpWebhookSender(allow_private=allow_private)
