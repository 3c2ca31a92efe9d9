"""Webhook subscriptions over HTTP: a party manages its own, the secret is shown once, another
party's subscription is a 404, and a key without ``webhooks:manage`` gets a 403."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PARTIES, MakeKey
from xborder.api.app import create_app
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.services.access import ApiRole

SELLER = PARTIES[ApiRole.SELLER]
CARRIER = PARTIES[ApiRole.CARRIER]
URL = "https://hooks.example.com/xb"


@pytest.fixture(scope="module")
def client(
    api_platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = ApiSettings(rate_limit_per_minute=0, data_dir=tmp_path_factory.mktemp("wh"))
    with TestClient(create_app(api_platform, settings=settings)) as c:
        yield c


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_party_subscribes_its_own_endpoint_and_sees_the_secret_once(
    client: TestClient, make_key: MakeKey
) -> None:
    seller, _ = make_key(SELLER, ApiRole.SELLER)
    made = client.post("/webhooks", json={"url": URL}, headers=_auth(seller))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["party_id"] == SELLER and body["secret"].startswith("whsec_")
    listed = client.get("/webhooks", headers=_auth(seller)).json()
    assert [s["id"] for s in listed] == [body["id"]]
    assert all(s["secret"] is None for s in listed)  # never shown again


def test_another_partys_subscription_is_not_found(client: TestClient, make_key: MakeKey) -> None:
    seller, _ = make_key(SELLER, ApiRole.SELLER)
    carrier, _ = make_key(CARRIER, ApiRole.CARRIER)
    mine = client.post("/webhooks", json={"url": URL + "/c"}, headers=_auth(carrier)).json()
    assert mine["party_id"] == CARRIER
    assert all(
        s["party_id"] == SELLER for s in client.get("/webhooks", headers=_auth(seller)).json()
    )
    stolen = client.delete(f"/webhooks/{mine['id']}", headers=_auth(seller))
    assert stolen.status_code == 404
    assert stolen.headers["content-type"].startswith("application/problem+json")
    gone = client.delete(f"/webhooks/{mine['id']}", headers=_auth(carrier))
    assert gone.status_code == 200 and gone.json()["disabled_at"] is not None
    assert client.get("/webhooks/deliveries", headers=_auth(carrier)).status_code == 200


def test_without_the_scope_or_with_a_bad_url_it_is_refused(
    client: TestClient, make_key: MakeKey
) -> None:
    reader, _ = make_key(SELLER, ApiRole.SELLER, ["orders:read"])
    assert client.post("/webhooks", json={"url": URL}, headers=_auth(reader)).status_code == 403
    assert client.get("/webhooks").status_code == 401
    seller, _ = make_key(SELLER, ApiRole.SELLER)
    bad = client.post("/webhooks", json={"url": "file:///etc/passwd"}, headers=_auth(seller))
    assert bad.status_code in (400, 422)
    unknown = client.post("/webhooks", json={"url": URL, "event_types": ["order.eaten"]},
                          headers=_auth(seller))  # fmt: skip
    assert unknown.status_code in (400, 422)
