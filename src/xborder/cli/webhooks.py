"""``xborder webhooks``: subscribe parties to signed parcel notifications, deliver them, read
the delivery log (``docs/webhooks.md``)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, errors, fail, platform, table
from xborder.domain.errors import DomainError

app = typer.Typer(help="Signed webhooks for parcel changes and exceptions.", no_args_is_help=True)
EVENTS = "parcel.status_changed, parcel.exception"
VERBOSE_OPTION = typer.Option(False, "--verbose", "-v", help="Show full URLs and ids.")


def _when(value: Any) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


@app.command("subscribe")
def subscribe_cmd(
    party: str = typer.Argument(..., help="The subscribing party's id (or 'operator')."),
    url: str = typer.Argument(..., help="Where to POST notifications (http or https)."),
    event: list[str] | None = typer.Option(
        None, "--event", "-e", help=f"One of {EVENTS} (repeatable; default: both)."
    ),
    role: str | None = typer.Option(
        None, "--role", help="The role whose view applies (default: the party's one role)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Subscribe a party; prints the signing secret once (it is not shown again)."""
    from xborder.services.access import parse_role
    from xborder.services.webhooks import EVENT_TYPES, Subscribe, subscribe

    try:
        kinds = tuple(event) if event else EVENT_TYPES
        command = Subscribe(party, url, kinds, parse_role(role) if role else None)
        sub = subscribe(platform().uow(), command)
    except DomainError as exc:
        fail(str(exc), 2 if isinstance(exc, ValueError) else 1)
    if as_json:
        emit_json(
            {
                "id": sub.id,
                "party_id": sub.party_id,
                "role": sub.role,
                "url": sub.url,
                "event_types": list(sub.event_types),
                "secret": sub.secret,
                "created_at": sub.created_at,
            }
        )
        return
    console.print(
        f"Subscribed {sub.party_id} ({sub.role}) as [bold]{sub.id}[/]: "
        f"{', '.join(sub.event_types)}",
        highlight=False,
    )
    console.print(f"Signing secret: [bold]{sub.secret}[/]", highlight=False, soft_wrap=True)
    errors.print("[yellow]Store the secret now: it is not shown again.[/]", highlight=False)


@app.command("list")
def list_cmd(
    party: str | None = typer.Option(None, "--party", help="Only this party's."),
    verbose: bool = VERBOSE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The subscriptions (never their secrets); events: both, status or exception; a disabled
    subscription's are "off"."""
    from xborder.services.webhooks import ListSubscriptions, list_subscriptions

    subs = list_subscriptions(platform().uow(), ListSubscriptions(party))
    if as_json:
        emit_json(
            [
                {
                    "id": s.id,
                    "party_id": s.party_id,
                    "role": s.role,
                    "url": s.url,
                    "event_types": list(s.event_types),
                    "created_at": s.created_at,
                    "disabled_at": s.disabled_at,
                }
                for s in subs
            ]
        )
        return
    if not subs:
        console.print("No webhook subscriptions.")
        return
    out = []
    for s in subs:
        line = {
            "id": s.id,
            "party": s.party_id,
            "to": s.url if verbose else _host(s.url),
            "events": "off" if s.disabled_at else _events(s.event_types),
        }
        if verbose:
            line.update(role=s.role, created=_when(s.created_at), disabled=_when(s.disabled_at))
        out.append(line)
    console.print(table(out))


def _events(kinds: tuple[str, ...]) -> str:
    """The event types in a word: both, status or exception."""
    return "both" if len(kinds) > 1 else kinds[0].removeprefix("parcel.").split("_")[0]


@app.command("disable")
def disable_cmd(subscription_id: str = typer.Argument(..., help="The subscription id.")) -> None:
    """Stop a subscription: nothing more is enqueued or sent for it."""
    from xborder.services.webhooks import DisableSubscription, disable_subscription

    try:
        sub = disable_subscription(platform().uow(), DisableSubscription(subscription_id))
    except DomainError as exc:
        fail(str(exc), 1)
    console.print(f"Disabled {sub.id} ({sub.party_id}).", highlight=False)


@app.command("deliver")
def deliver_cmd(
    loop: bool = typer.Option(False, "--loop", help="Keep going until interrupted."),
    interval: float = typer.Option(5.0, "--interval", min=0.1, help="Seconds between rounds."),
    batch: int = typer.Option(100, "--batch", min=1, help="Notifications per round."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds per request."),
    allow_private: bool = typer.Option(
        False,
        "--allow-private",
        help="Allow URLs on loopback or private networks (tests, a local receiver).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Enqueue the ledger's new parcel changes, then send what is due (once, or in a loop)."""
    from xborder.services.webhooks import (
        DeliverDue,
        EnqueueChanges,
        deliver_due,
        enqueue_parcel_changes,
        http_sender,
    )

    store = platform()
    sender = http_sender(allow_private=allow_private)
    try:
        while True:
            queued = enqueue_parcel_changes(store.uow(), EnqueueChanges())
            report = deliver_due(store.uow(), DeliverDue(sender, batch=batch, timeout_s=timeout))
            summary = {
                "enqueued": queued.enqueued,
                "sent": report.attempted,
                "delivered": report.delivered,
                "retrying": report.retrying,
                "dead": report.dead,
            }
            if as_json:
                emit_json(summary)
            elif report.attempted or queued.enqueued or not loop:
                console.print(table([summary]))
            if not loop:
                return
            if report.attempted < batch:  # caught up: wait; a full batch goes on at once
                time.sleep(interval)
    except KeyboardInterrupt:
        return
    except DomainError as exc:
        fail(str(exc), 1)


@app.command("log")
def log_cmd(
    limit: int = typer.Option(20, "--limit", min=1, help="How many attempts (newest first)."),
    party: str | None = typer.Option(None, "--party", help="Only this party's subscriptions."),
    verbose: bool = VERBOSE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The delivery log: every attempt (its HTTP answer and try number) and what became of the
    notification since (delivered, retrying or dead)."""
    from xborder.services.webhooks import DeliveryLog, delivery_log

    rows = delivery_log(platform().uow(), DeliveryLog(limit, party))
    if as_json:
        emit_json(
            [
                {
                    "delivery_id": r.delivery_id,
                    "subscription_id": r.subscription_id,
                    "party_id": r.party_id,
                    "url": r.url,
                    "event_type": r.event_type,
                    "attempt": r.attempt,
                    "attempted_at": r.attempted_at,
                    "status_code": r.status_code,
                    "error": r.error,
                    "duration_ms": r.duration_ms,
                    "state": r.state,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        console.print("No delivery attempts yet.")
        return
    out = []
    for r in rows:
        answer = str(r.status_code) if r.status_code is not None else "none"
        line: dict[str, Any] = {
            "at (UTC)": _when(r.attempted_at)[5:],
            "party": r.party_id,
            "event": _events((r.event_type,)),
            "answer": f"{answer} #{r.attempt}",
            "now": r.state,
        }
        if verbose:
            line.update(ms=r.duration_ms, id=r.delivery_id, url=r.url, error=r.error or "")
        out.append(line)
    console.print(table(out))
