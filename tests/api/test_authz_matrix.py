"""The authorisation matrix: every role against every endpoint kind, with its own ids and another
party's. Expected: 200 for its own, 404 for another party's (never a leak, never a 403 that
would confirm the id exists), 403 when the key lacks the scope or the role.

What a party owns is computed here with plain SQL over the scenario's store, independently of
the repository that filters the API's reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.conftest import PARTIES, MakeKey
from xborder.api.app import create_app
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.services.access import DEFAULT_SCOPES, ApiRole

ROLES = [r for r in PARTIES]

# The SQL that says which orders / parcels / declarations a party takes part in.
OWN_ORDERS = {
    ApiRole.OPERATOR: "SELECT id FROM orders",
    ApiRole.SELLER: "SELECT id FROM orders WHERE seller_id = :p",
    ApiRole.PLATFORM: "SELECT id FROM orders WHERE platform_id = :p",
    ApiRole.CARRIER: "SELECT p.order_id FROM parcels p LEFT JOIN lanes l ON l.id = p.lane_id "
    "LEFT JOIN last_mile m ON m.id = p.last_mile_id WHERE l.carrier_id = :p OR m.carrier_id = :p",
    ApiRole.WAREHOUSE: "SELECT p.order_id FROM parcels p JOIN warehouses w "
    "ON w.id = p.warehouse_id WHERE w.operator_id = :p",
    ApiRole.BROKER: "SELECT d.order_id FROM customs_declarations d JOIN parties x "
    "ON x.country = d.destination WHERE x.id = :p AND d.order_id IS NOT NULL",
    ApiRole.PAYMENT_PROVIDER: "SELECT order_id FROM payments WHERE provider = :p",
}
OWN_PARCELS = {
    ApiRole.OPERATOR: "SELECT tracking_no FROM parcels",
    ApiRole.SELLER: "SELECT p.tracking_no FROM parcels p JOIN orders o ON o.id = p.order_id "
    "WHERE o.seller_id = :p",
    ApiRole.PLATFORM: "SELECT p.tracking_no FROM parcels p JOIN orders o ON o.id = p.order_id "
    "WHERE o.platform_id = :p",
    ApiRole.CARRIER: "SELECT p.tracking_no FROM parcels p LEFT JOIN lanes l ON l.id = p.lane_id "
    "LEFT JOIN last_mile m ON m.id = p.last_mile_id WHERE l.carrier_id = :p OR m.carrier_id = :p",
    ApiRole.WAREHOUSE: "SELECT p.tracking_no FROM parcels p JOIN warehouses w "
    "ON w.id = p.warehouse_id WHERE w.operator_id = :p",
}
OWN_DECLARATIONS = {
    ApiRole.OPERATOR: "SELECT order_id FROM customs_declarations",
    ApiRole.SELLER: "SELECT d.order_id FROM customs_declarations d JOIN orders o "
    "ON o.id = d.order_id WHERE o.seller_id = :p",
    ApiRole.PLATFORM: "SELECT d.order_id FROM customs_declarations d JOIN orders o "
    "ON o.id = d.order_id WHERE o.platform_id = :p",
    ApiRole.BROKER: OWN_ORDERS[ApiRole.BROKER],
}


def _set(platform: Platform, sql: str | None, party: str) -> set[Any]:
    if sql is None:
        return set()
    with platform.engine.connect() as conn:
        return {r[0] for r in conn.execute(text(sql), {"p": party}) if r[0] is not None}


@pytest.fixture(scope="module")
def client(
    api_platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = ApiSettings(rate_limit_per_minute=0, data_dir=tmp_path_factory.mktemp("authz"))
    with TestClient(create_app(api_platform, settings=settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def headers(make_key: MakeKey) -> dict[ApiRole, dict[str, str]]:
    return {r: {"X-API-Key": make_key(p, r)[0]} for r, p in PARTIES.items()}


@pytest.fixture(scope="module")
def universe(api_platform: Platform) -> dict[str, set[Any]]:
    return {
        "orders": _set(api_platform, OWN_ORDERS[ApiRole.OPERATOR], ""),
        "parcels": _set(api_platform, OWN_PARCELS[ApiRole.OPERATOR], ""),
        "declarations": _set(api_platform, OWN_DECLARATIONS[ApiRole.OPERATOR], ""),
    }


# kind -> (scope, ground truth, path of one object, list path, key of a listed item)
KINDS: dict[str, tuple[str, dict[ApiRole, str], str, str, str]] = {
    "orders": ("orders:read", OWN_ORDERS, "/orders/{}", "/orders", "id"),
    "parcels": ("parcels:read", OWN_PARCELS, "/parcels/{}", "/parcels", "tracking_no"),
    "declarations": ("customs:read", OWN_DECLARATIONS, "/declarations/{}", "/declarations",
                     "order_id"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_objects_own_and_foreign(
    client: TestClient, headers: dict[ApiRole, dict[str, str]], api_platform: Platform,
    universe: dict[str, set[Any]], role: ApiRole, kind: str,
) -> None:  # fmt: skip
    scope, truth, one, many, key = KINDS[kind]
    own = _set(api_platform, truth.get(role), PARTIES[role])
    foreign = sorted(universe[kind] - own, key=str)
    allowed = scope in DEFAULT_SCOPES[role]
    listed = client.get(many, params={"limit": 500}, headers=headers[role])
    if not allowed:
        assert listed.status_code == 403
        for ident in sorted(own, key=str)[:1] + foreign[:1]:
            assert client.get(one.format(ident), headers=headers[role]).status_code == 403
        return
    assert listed.status_code == 200, listed.text
    items = {item[key] for item in listed.json()["items"]}
    assert items <= own, f"{role.value} sees {sorted(items - own, key=str)[:3]} of others"
    if len(own) <= 500:
        assert items == own
    for ident in sorted(own, key=str)[:3]:
        assert client.get(one.format(ident), headers=headers[role]).status_code == 200
    for ident in foreign[:3]:
        response = client.get(one.format(ident), headers=headers[role])
        assert response.status_code == 404, (role, kind, ident)
        assert str(ident) not in response.json()["title"]
    if role is not ApiRole.OPERATOR:
        assert foreign, f"the scenario gives {role.value} no foreign {kind} to test against"


# endpoint kind -> (method, path, body, scope, roles that may act beyond the scope)
ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None, str, set[ApiRole]]] = {
    "kpis": ("GET", "/kpis", None, "kpis:read", {ApiRole.OPERATOR, ApiRole.PLATFORM}),
    "latest plan": ("GET", "/plans/latest", None, "plans:read", {ApiRole.OPERATOR}),
    "plan": ("POST", "/plans", {"order_ids": []}, "plans:write", {ApiRole.OPERATOR}),
    "consolidate": ("POST", "/consolidations", {}, "parcels:write", {ApiRole.OPERATOR}),
    "pack": ("POST", "/parcels/pack", {"order_ids": []}, "parcels:write",
             {ApiRole.OPERATOR, ApiRole.WAREHOUSE}),
    "simulation": ("GET", "/simulations/" + "0" * 32, None, "simulate:run", {ApiRole.OPERATOR}),
    "payments": ("GET", "/payments", None, "payments:read", set(ApiRole)),
    "statement": ("GET", "/ledger/statement", None, "ledger:read", set(ApiRole)),
}  # fmt: skip


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_actions_by_role_and_scope(
    client: TestClient, headers: dict[ApiRole, dict[str, str]], role: ApiRole, action: str
) -> None:
    method, path, body, scope, roles = ACTIONS[action]
    response = client.request(method, path, json=body, headers=headers[role])
    if scope not in DEFAULT_SCOPES[role] or role not in roles:
        assert response.status_code == 403, (role, action, response.text)
    elif action == "simulation":
        assert response.status_code == 404  # no such run, but allowed to ask
    else:
        assert response.status_code == 200, (role, action, response.text)


def test_statements_are_the_partys_own(
    client: TestClient, headers: dict[ApiRole, dict[str, str]]
) -> None:
    for role in ROLES:
        own = client.get("/ledger/statement", headers=headers[role])
        assert own.status_code == 200
        assert all(line["account"].startswith(PARTIES[role] + ":")
                   for line in own.json()["lines"])  # fmt: skip
        other = next(p for r, p in PARTIES.items() if r is not role and r is not ApiRole.OPERATOR)
        named = client.get("/ledger/statement", params={"party": other}, headers=headers[role])
        assert named.status_code == (200 if role is ApiRole.OPERATOR else 404)


def test_payments_listed_are_the_partys_own(
    client: TestClient, headers: dict[ApiRole, dict[str, str]], api_platform: Platform
) -> None:
    truth = {
        ApiRole.OPERATOR: "SELECT id FROM payments",
        ApiRole.SELLER: "SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id "
        "WHERE o.seller_id = :p",
        ApiRole.PLATFORM: "SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id "
        "WHERE o.platform_id = :p",
        ApiRole.PAYMENT_PROVIDER: "SELECT id FROM payments WHERE provider = :p",
    }
    for role, sql in truth.items():
        own = _set(api_platform, sql, PARTIES[role])
        listed = client.get("/payments", params={"limit": 500}, headers=headers[role]).json()
        assert {p["id"] for p in listed["items"]} == own
        assert own or role is not ApiRole.PAYMENT_PROVIDER


def test_missing_scope_is_forbidden_even_for_own_objects(
    client: TestClient, make_key: MakeKey, api_platform: Platform
) -> None:
    seller = PARTIES[ApiRole.SELLER]
    token, _ = make_key(seller, ApiRole.SELLER, ["parcels:read"])
    own = sorted(_set(api_platform, OWN_ORDERS[ApiRole.SELLER], seller))[0]
    assert client.get(f"/orders/{own}", headers={"X-API-Key": token}).status_code == 403
    assert client.get("/parcels", headers={"X-API-Key": token}).status_code == 200


def test_public_tracking_needs_no_key_and_the_postcode(
    client: TestClient, api_platform: Platform
) -> None:
    with api_platform.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tracking_no, destination_postcode FROM parcels ORDER BY id LIMIT 2")
        ).all()
    (mine, code), (other, other_code) = rows
    assert client.get(f"/track/{mine}", params={"postcode": code}).status_code == 200
    if other_code != code:
        assert client.get(f"/track/{other}", params={"postcode": code}).status_code == 404
