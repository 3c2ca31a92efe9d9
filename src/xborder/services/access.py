"""Who is calling: API roles, scopes and the principal an authenticated request acts as.

Every party of the ecosystem reaches the platform with its own key. A key carries one role (what
kind of party the caller is, which decides the tenant filter the services apply) and a set of
scopes (which kinds of action the key may take at all). The two are separate on purpose: the
role says *whose* objects a caller sees, the scopes say *what* it may do with them, so a party
can hold a read-only key for a dashboard next to a writing key for its integration.

Tenant isolation itself lives in the tenancy use cases (``services/tenancy.py``); this module
only names the vocabulary and checks scopes (``Principal.require``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from xborder.domain.errors import Forbidden, InvalidValue
from xborder.domain.parties import Role

OPERATOR_PARTY = "operator"
"""The party id of operator keys. The platform operator is not a party of the stored world (the
world's ``platform`` parties are marketplaces, i.e. tenants), so operator keys name this id."""


class ApiRole(StrEnum):
    OPERATOR = "operator"  # the platform operator: sees everything
    SELLER = "seller"  # its orders, payments of its orders, its statement
    PLATFORM = "platform"  # marketplace: orders placed on it (orders.platform_id)
    CARRIER = "carrier"  # logistics_provider or last_mile_carrier: parcels/bags it carries
    WAREHOUSE = "warehouse"  # warehouse_operator: parcels packed at its warehouses
    BROKER = "broker"  # customs_broker: declarations it files
    PAYMENT_PROVIDER = "payment_provider"  # payments it processed
    BUYER = "buyer"  # never holds a key: tracking number + postcode reach one parcel


SCOPES: tuple[str, ...] = (
    "orders:read",
    "orders:write",
    "payments:read",
    "payments:write",
    "quotes:read",
    "plans:read",
    "plans:write",
    "parcels:read",
    "parcels:write",
    "customs:read",
    "ledger:read",
    "trace:read",
    "trace:write",
    "kpis:read",
    "simulate:run",
    "webhooks:manage",
)

WORLD_ROLES: dict[ApiRole, frozenset[Role]] = {
    ApiRole.SELLER: frozenset({Role.SELLER}),
    ApiRole.PLATFORM: frozenset({Role.PLATFORM}),
    ApiRole.CARRIER: frozenset({Role.LOGISTICS_PROVIDER, Role.LAST_MILE_CARRIER}),
    ApiRole.WAREHOUSE: frozenset({Role.WAREHOUSE_OPERATOR}),
    ApiRole.BROKER: frozenset({Role.CUSTOMS_BROKER}),
    ApiRole.PAYMENT_PROVIDER: frozenset({Role.PAYMENT_PROVIDER}),
}
"""Which roles of the stored world a party needs to hold a key of each API role (any one of
them). Operator keys need none (they belong to ``OPERATOR_PARTY``); buyers never hold keys."""

ALLOWED_SCOPES: dict[ApiRole, frozenset[str]] = {
    ApiRole.OPERATOR: frozenset(SCOPES),
    ApiRole.SELLER: frozenset(
        {
            "orders:read",
            "orders:write",
            "payments:read",
            "quotes:read",
            "parcels:read",
            "customs:read",
            "ledger:read",
            "trace:read",
            "webhooks:manage",
        }
    ),
    ApiRole.PLATFORM: frozenset(
        {
            "orders:read",
            "orders:write",
            "payments:read",
            "payments:write",
            "quotes:read",
            "parcels:read",
            "customs:read",
            "ledger:read",
            "trace:read",
            "webhooks:manage",
        }
    ),
    ApiRole.CARRIER: frozenset(
        {
            "parcels:read",
            "parcels:write",
            "trace:read",
            "trace:write",
            "ledger:read",
            "webhooks:manage",
        }
    ),
    ApiRole.WAREHOUSE: frozenset(
        {
            "parcels:read",
            "parcels:write",
            "trace:read",
            "trace:write",
            "ledger:read",
            "webhooks:manage",
        }
    ),
    ApiRole.BROKER: frozenset(
        {
            "customs:read",
            "parcels:read",
            "trace:read",
            "trace:write",
            "ledger:read",
            "webhooks:manage",
        }
    ),
    ApiRole.PAYMENT_PROVIDER: frozenset(
        {"payments:read", "payments:write", "ledger:read", "webhooks:manage"}
    ),
    ApiRole.BUYER: frozenset(),
}
"""The most a key of each role may be granted. Planning, KPIs over the whole network and
simulation runs are the operator's alone."""

DEFAULT_SCOPES: dict[ApiRole, frozenset[str]] = {
    **ALLOWED_SCOPES,
    ApiRole.PLATFORM: ALLOWED_SCOPES[ApiRole.PLATFORM] - {"payments:write"},
}
"""What ``keys create`` grants when no ``--scope`` is given: everything the role may hold,
except that a marketplace records payments only when asked to (``payments:write``)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller an authenticated request acts as."""

    key_id: str
    party_id: str  # a world party id; operator keys: OPERATOR_PARTY
    role: ApiRole
    scopes: frozenset[str]

    @property
    def is_operator(self) -> bool:
        return self.role is ApiRole.OPERATOR

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        """Raise ``Forbidden`` unless the key holds ``scope``."""
        if scope not in self.scopes:
            raise Forbidden(f"this key lacks the scope {scope!r}")


def parse_role(value: str) -> ApiRole:
    """The API role named ``value`` (``InvalidValue`` naming the role otherwise)."""
    try:
        return ApiRole(value)
    except ValueError:
        known = ", ".join(r.value for r in ApiRole if r is not ApiRole.BUYER)
        raise InvalidValue("role", f"unknown role; use one of {known}", value) from None


def check_scopes(role: ApiRole, scopes: frozenset[str] | None) -> frozenset[str]:
    """The scopes a new key of ``role`` gets: ``scopes`` checked, or the role's defaults.

    Raises ``InvalidValue`` naming the first unknown scope, or the first scope the role may not
    hold."""
    if scopes is None:
        return DEFAULT_SCOPES[role]
    for scope in sorted(scopes):
        if scope not in SCOPES:
            raise InvalidValue("scope", "unknown scope", scope)
    allowed = ALLOWED_SCOPES[role]
    for scope in sorted(scopes):
        if scope not in allowed:
            raise InvalidValue("scope", f"not allowed for role {role.value}", scope)
    if not scopes:
        raise InvalidValue("scope", "a key needs at least one scope")
    return frozenset(scopes)
