"""Webhooks: a party subscribes its own endpoint, lists and disables its subscriptions, and
reads its delivery log. Notifications are signed (docs/webhooks.md) and sent by
``xborder webhooks deliver`` (one process per deployment, or more: items are leased)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from xborder.api.deps import platform, scoped
from xborder.api.models import Instant
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.services.access import Principal
from xborder.services.webhooks import (
    EVENT_TYPES,
    DeliveryLog,
    DisableSubscription,
    ListSubscriptions,
    Subscribe,
    Subscription,
    delivery_log,
    disable_subscription,
    list_subscriptions,
    subscribe,
)

router = APIRouter(tags=["webhooks"], responses=PROBLEM_RESPONSES)
MANAGE = "webhooks:manage"


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, examples=["https://example.com/hooks/xb"])
    event_types: list[str] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1)


class SubscriptionOut(BaseModel):
    id: str
    party_id: str
    role: str
    url: str
    event_types: list[str]
    created_at: Instant
    disabled_at: Instant | None = None
    secret: str | None = Field(None, description="the signing secret: in the answer to POST only")


class AttemptOut(BaseModel):
    delivery_id: str
    subscription_id: str
    event_type: str
    attempt: int
    attempted_at: Instant
    status_code: int | None
    error: str | None
    duration_ms: int
    state: str


def _out(sub: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id, party_id=sub.party_id, role=sub.role, url=sub.url,
        event_types=list(sub.event_types), created_at=sub.created_at,
        disabled_at=sub.disabled_at, secret=sub.secret,
    )  # fmt: skip


def _own(caller: Principal) -> str | None:
    """The operator manages every party's subscriptions; anyone else only its own."""
    return None if caller.is_operator else caller.party_id


@router.post("/webhooks", response_model=SubscriptionOut, status_code=201,
             summary="Subscribe your endpoint; the signing secret is shown once")  # fmt: skip
def post_webhook(
    body: SubscriptionIn,
    caller: Principal = Depends(scoped(MANAGE)),
    plat: Platform = Depends(platform),
) -> SubscriptionOut:
    command = Subscribe.for_principal(caller, body.url, tuple(body.event_types))
    return _out(subscribe(plat.uow(), command))


@router.get("/webhooks", response_model=list[SubscriptionOut], summary="Your subscriptions")
def get_webhooks(
    caller: Principal = Depends(scoped(MANAGE)), plat: Platform = Depends(platform)
) -> list[SubscriptionOut]:
    return [_out(s) for s in list_subscriptions(plat.uow(), ListSubscriptions(_own(caller)))]


@router.delete("/webhooks/{subscription_id}", response_model=SubscriptionOut,
               summary="Disable a subscription (nothing more is sent to it)")  # fmt: skip
def delete_webhook(
    subscription_id: str = Path(min_length=1, max_length=80),
    caller: Principal = Depends(scoped(MANAGE)),
    plat: Platform = Depends(platform),
) -> SubscriptionOut:
    command = DisableSubscription(subscription_id, _own(caller))
    return _out(disable_subscription(plat.uow(), command))


@router.get("/webhooks/deliveries", response_model=list[AttemptOut],
            summary="The delivery log of your subscriptions, newest first")  # fmt: skip
def get_deliveries(
    limit: int = Query(50, ge=1, le=500),
    caller: Principal = Depends(scoped(MANAGE)),
    plat: Platform = Depends(platform),
) -> list[AttemptOut]:
    log = delivery_log(plat.uow(), DeliveryLog(limit=limit, party_id=_own(caller)))
    return [
        AttemptOut(delivery_id=a.delivery_id, subscription_id=a.subscription_id,
                   event_type=a.event_type, attempt=a.attempt, attempted_at=a.attempted_at,
                   status_code=a.status_code, error=a.error, duration_ms=a.duration_ms,
                   state=a.state)
        for a in log
    ]  # fmt: skip
