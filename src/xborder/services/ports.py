"""Ports: what the platform asks of the parties outside it (carriers, customs, payment).

An adapter implements a port. A real one is the Karrio idea: a pure mapper between the partner's
messages and these types, plus a thin proxy that talks to the partner's API; the simulated ones
(``xborder.simulation.parties``) draw the same answers from the world's distributions. Use cases
(``xborder.services.partners``) call the ports and record what they answer through the lifecycle,
so a real carrier and a simulated one change nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from xborder.domain.lifecycle import Step
from xborder.domain.orders import PaymentRecord


@dataclass(frozen=True, slots=True)
class Shipment:
    """A bag or a parcel in a partner's hands, as the platform knows it."""

    subject: str  # a bag's SSCC, a parcel's tracking number
    kind: str  # "bag" | "parcel"
    status: str  # a bag's last step, a parcel's ParcelStatus
    since: datetime  # when it reached that status
    lane_id: str | None
    last_mile_id: str | None
    departure_date: date | None
    order_id: int | None = None
    country: str | None = None  # a parcel's destination country


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """A scan the partner reports: what happened to a shipment, when, and where."""

    subject: str
    step: Step
    at: datetime
    place: str | None = None


@dataclass(frozen=True, slots=True)
class CustomsOutcome:
    """Customs' answer for a parcel: the step it takes and the list receipts (CEB622 codes, in
    order) that say so, e.g. ``("120", "399", "800")`` for accepted, concluded, released."""

    subject: str
    step: Step
    at: datetime
    receipts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AwaitingPayment:
    order_id: int
    channel: str
    external_id: str
    amount_minor: int
    currency: str
    placed_at: datetime
    buyer_name: str
    buyer_id_number: str | None = None  # China CBEC: the payer must be the buyer


class CarrierPort(Protocol):
    """A line-haul, hub or last-mile carrier: its scans up to ``until``."""

    def track(self, shipments: Sequence[Shipment], until: datetime) -> list[TrackingEvent]: ...


class CustomsPort(Protocol):
    """A customs authority (through the broker's channel): its decisions up to ``until``."""

    def decide(self, shipments: Sequence[Shipment], until: datetime) -> list[CustomsOutcome]: ...


class PaymentPort(Protocol):
    """A payment provider: the payments buyers made up to ``until``."""

    def collect(
        self, orders: Sequence[AwaitingPayment], until: datetime
    ) -> list[PaymentRecord]: ...


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one webhook delivery attempt got: the HTTP status (None when no answer came) or the
    error that stopped it, and how long it took."""

    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookSender(Protocol):
    """Sends one signed webhook body to a subscriber's URL (``adapters/webhook_http.py``).

    Must not follow redirects and must give up after ``timeout_s``; it reports failures in the
    result instead of raising."""

    def send(
        self, url: str, headers: dict[str, str], body: bytes, timeout_s: float
    ) -> SendResult: ...
