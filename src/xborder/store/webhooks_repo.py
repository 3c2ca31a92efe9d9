"""Webhook subscriptions, the outbox and the delivery log in the store.

The one read that joins other areas is ``parcel_events``: the trace ledger's events in an id
range, each expanded to the parcels it concerns (a parcel's own events, and its bag's while the
parcel is inside, as ``TraceRepository.history`` reads them), with the parties that may see that
parcel. Trace event ids are allocated under the ledger's writer lock, so they become visible in
id order and an id cursor never skips an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Insert, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from xborder.store.chunks import chunks
from xborder.store.schema import parties
from xborder.store.schema_trace import trace_events
from xborder.store.schema_webhooks import webhook_attempts, webhook_outbox, webhook_subscriptions

CHUNK = 200

_PARCEL_EVENTS = text(
    """
    WITH ev AS (
        SELECT e.id AS event_id, e.object_id AS object_id, e.event_time_ms, e.event_type,
               e.action, e.biz_step, e.disposition
        FROM trace_events e WHERE e.id > :lo AND e.id <= :hi
        UNION ALL
        SELECT e.id, ms.member_id, e.event_time_ms, e.event_type, e.action, e.biz_step,
               e.disposition
        FROM trace_events e JOIN trace_memberships ms ON ms.container_id = e.object_id
        WHERE e.id > :lo AND e.id <= :hi AND e.id >= ms.added_event_id
          AND (ms.removed_event_id IS NULL OR e.id <= ms.removed_event_id)
    )
    SELECT ev.event_id, ev.event_time_ms, ev.event_type, ev.action, ev.biz_step,
           ev.disposition, p.tracking_no, p.order_id, o.seller_id, o.platform_id,
           l.carrier_id AS lane_carrier, lm.carrier_id AS last_mile_carrier,
           w.operator_id AS warehouse_operator
    FROM ev
    JOIN trace_objects t ON t.id = ev.object_id
    JOIN parcels p ON p.tracking_no = t.tracking_no
    JOIN orders o ON o.id = p.order_id
    JOIN warehouses w ON w.id = p.warehouse_id
    LEFT JOIN lanes l ON l.id = p.lane_id
    LEFT JOIN last_mile lm ON lm.id = p.last_mile_id
    ORDER BY ev.event_id, p.tracking_no
    """
)

_SUB_COLUMNS = tuple(c for c in webhook_subscriptions.c if c.name != "secret")


def _utc(value: Any) -> Any:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _row(mapping: Any) -> dict[str, Any]:
    return {k: _utc(v) for k, v in dict(mapping).items()}


class WebhookRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    # -- subscriptions -----------------------------------------------------------------------
    def party_roles(self, party_id: str) -> set[str] | None:
        """The world roles of ``party_id`` (None: no such party)."""
        roles = self.connection.execute(
            select(parties.c.roles).where(parties.c.id == party_id)
        ).scalar()
        return None if roles is None else {r for r in str(roles).split(",") if r}

    def last_event_id(self) -> int:
        return int(self.connection.execute(select(func.max(trace_events.c.id))).scalar() or 0)

    def add_subscription(self, row: dict[str, Any]) -> None:
        self.connection.execute(insert(webhook_subscriptions), [row])

    def subscriptions(
        self, party_id: str | None = None, active_only: bool = False, with_secret: bool = False
    ) -> list[dict[str, Any]]:
        """Subscriptions (of ``party_id``; active ones only), oldest first. The secret only when
        asked for: signing needs it, listings never show it."""
        s = webhook_subscriptions.c
        columns = list(webhook_subscriptions.c) if with_secret else list(_SUB_COLUMNS)
        stmt = select(*columns).order_by(s.created_at, s.id)
        if party_id is not None:
            stmt = stmt.where(s.party_id == party_id)
        if active_only:
            stmt = stmt.where(s.disabled_at.is_(None))
        return [_row(r._mapping) for r in self.connection.execute(stmt)]

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        s = webhook_subscriptions.c
        row = self.connection.execute(select(*_SUB_COLUMNS).where(s.id == subscription_id)).first()
        return None if row is None else _row(row._mapping)

    def disable(self, subscription_id: str, at: datetime) -> None:
        s = webhook_subscriptions.c
        self.connection.execute(
            update(webhook_subscriptions)
            .where(s.id == subscription_id, s.disabled_at.is_(None))
            .values(disabled_at=at)
        )

    def advance_cursors(self, subscription_ids: Sequence[str], event_id: int) -> None:
        s = webhook_subscriptions.c
        for part in chunks(list(subscription_ids), CHUNK):
            self.connection.execute(
                update(webhook_subscriptions)
                .where(s.id.in_(part), s.cursor_event_id < event_id)
                .values(cursor_event_id=event_id)
            )

    # -- what happened to parcels --------------------------------------------------------------
    def event_range_end(self, after: int, limit: int) -> int | None:
        """The id of the ``limit``-th trace event after ``after`` (or the last one); None: none."""
        ids = (
            select(trace_events.c.id)
            .where(trace_events.c.id > after)
            .order_by(trace_events.c.id)
            .limit(limit)
            .subquery()
        )
        value = self.connection.execute(select(func.max(ids.c.id))).scalar()
        return None if value is None else int(value)

    def parcel_events(self, after: int, upto: int) -> list[dict[str, Any]]:
        """Trace events with ids in (after, upto], one row per parcel each concerns, with the
        parcel's tracking number, order and the parties entitled to see it."""
        rows = self.connection.execute(_PARCEL_EVENTS, {"lo": after, "hi": upto})
        return [dict(r._mapping) for r in rows]

    # -- outbox --------------------------------------------------------------------------------
    def _insert_ignoring_duplicates(self) -> Insert:
        if self.postgres:
            return postgresql.insert(webhook_outbox).on_conflict_do_nothing()
        return sqlite.insert(webhook_outbox).on_conflict_do_nothing()

    def add_outbox(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Insert notifications; those already there (same id) are skipped. Returns the ids of
        the new ones."""
        new: list[str] = []
        for part in chunks(list(rows), CHUNK):
            stmt = self._insert_ignoring_duplicates().values(part).returning(webhook_outbox.c.id)
            new.extend(str(i) for i in self.connection.execute(stmt).scalars())
        return new

    def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[dict[str, Any]]:
        """Up to ``limit`` undelivered, living notifications of active subscriptions due at
        ``now``, oldest due first, leased until ``lease_until`` (their next attempt moves there,
        so another worker does not send them meanwhile; PostgreSQL skips rows another worker has
        locked)."""
        o, s = webhook_outbox.c, webhook_subscriptions.c
        stmt = (
            select(
                o.id,
                o.subscription_id,
                o.event_type,
                o.payload_json,
                o.attempts,
                o.created_at,
                s.url,
                s.secret,
            )
            .join(webhook_subscriptions, s.id == o.subscription_id)
            .where(
                o.next_attempt_at <= now,
                o.delivered_at.is_(None),
                o.dead_at.is_(None),
                s.disabled_at.is_(None),
            )
            .order_by(o.next_attempt_at, o.id)
            .limit(limit)
        )
        if self.postgres:
            stmt = stmt.with_for_update(of=webhook_outbox, skip_locked=True)
        rows = [_row(r._mapping) for r in self.connection.execute(stmt)]
        for part in chunks([r["id"] for r in rows], CHUNK):
            self.connection.execute(
                update(webhook_outbox).where(o.id.in_(part)).values(next_attempt_at=lease_until)
            )
        return rows

    def record_attempt(
        self,
        row: dict[str, Any],
        *,
        attempts: int,
        next_attempt_at: datetime | None,
        delivered_at: datetime | None = None,
        dead_at: datetime | None = None,
    ) -> None:
        """Log one attempt (``row``: outbox_id, attempt, attempted_at, status_code, error,
        duration_ms) and settle or reschedule its notification."""
        self.connection.execute(insert(webhook_attempts), [row])
        self.connection.execute(
            update(webhook_outbox)
            .where(webhook_outbox.c.id == row["outbox_id"])
            .values(
                attempts=attempts,
                next_attempt_at=next_attempt_at,
                delivered_at=delivered_at,
                dead_at=dead_at,
            )
        )

    def outbox(self, subscription_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Notifications (of those subscriptions), oldest first."""
        o = webhook_outbox.c
        stmt = select(webhook_outbox).order_by(o.created_at, o.id)
        if subscription_ids is not None:
            stmt = stmt.where(o.subscription_id.in_(list(subscription_ids)))
        return [_row(r._mapping) for r in self.connection.execute(stmt)]

    def attempts_log(
        self, limit: int, party_id: str | None = None, subscription_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The latest ``limit`` attempts (of a party's subscriptions, or one subscription),
        newest first, with their notification's type, subscription and URL."""
        a, o, s = webhook_attempts.c, webhook_outbox.c, webhook_subscriptions.c
        stmt = (
            select(
                a.outbox_id,
                a.attempt,
                a.attempted_at,
                a.status_code,
                a.error,
                a.duration_ms,
                o.event_type,
                o.subscription_id,
                o.delivered_at,
                o.dead_at,
                o.next_attempt_at,
                s.party_id,
                s.url,
            )
            .join(webhook_outbox, o.id == a.outbox_id)
            .join(webhook_subscriptions, s.id == o.subscription_id)
            .order_by(a.attempted_at.desc(), a.id.desc())
            .limit(limit)
        )
        if party_id is not None:
            stmt = stmt.where(s.party_id == party_id)
        if subscription_id is not None:
            stmt = stmt.where(s.id == subscription_id)
        return [_row(r._mapping) for r in self.connection.execute(stmt)]
