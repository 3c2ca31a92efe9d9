"""The HTTP API through its client: orders (idempotent single, bulk NDJSON), payments, quotes,
plans, parcels, declarations, tracking, ledger, KPIs, simulations; errors as problem details,
limits, pagination.

Runs on the API scenario's store (``api_platform``, shared by this module's tests), so writes use
external ids of their own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import text

from tests.api.conftest import API_UNTIL, API_WORLD, PARTIES, MakeKey
from tests.customs.ceb_support import key_and_cert, schema_errors
from tests.factories import make_order
from xborder.api.app import create_app
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.customs.ceb_sign import sign
from xborder.services.access import ApiRole

PROBLEM = "application/problem+json"
NS = "http://www.chinaport.gov.cn/ceb"
SELLER = PARTIES[ApiRole.SELLER]
PLATFORM = PARTIES[ApiRole.PLATFORM]
PROVIDER = PARTIES[ApiRole.PAYMENT_PROVIDER]
SELLER_PRODUCTS = [p for p in API_WORLD.products if p.seller == SELLER][:2]


def order_json(external_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid order of the demo seller as the API takes it (no nulls)."""
    raw = make_order(external_id, channel="api-test", **overrides).model_dump(mode="json")

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    out: dict[str, Any] = clean(raw)
    for line, product in zip(out["lines"], SELLER_PRODUCTS, strict=False):
        line.update(sku=product.sku, hs_code=product.hs_code)  # plannable: stocked SKUs
    return out


def fresh(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def count(platform: Platform, sql: str, **params: Any) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return ApiSettings(
        rate_limit_per_minute=0,
        bulk_chunk_lines=3,  # several chunks per upload
        data_dir=tmp_path_factory.mktemp("api-data"),
        simulations_inline=True,
    )


@pytest.fixture(scope="module")
def client(api_platform: Platform, app_settings: ApiSettings) -> Iterator[TestClient]:
    app = create_app(api_platform, settings=app_settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keys(make_key: MakeKey) -> dict[ApiRole, dict[str, str]]:
    """A bearer header per role (default scopes)."""
    return {
        role: {"Authorization": f"Bearer {make_key(party, role)[0]}"}
        for role, party in PARTIES.items()
    }


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://xborder.dev/problems/")
    assert "Traceback" not in response.text
    return body


# --- single orders and idempotency ------------------------------------------------------------
def test_post_order_is_stored_once_and_replayed(
    client: TestClient, keys: dict[ApiRole, dict[str, str]], api_platform: Platform
) -> None:
    body = order_json(fresh())
    headers = {**keys[ApiRole.SELLER], "Idempotency-Key": fresh("K")}
    first = client.post("/orders", json=body, headers=headers)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["status"] == "created" and created["external_id"] == body["external_id"]
    assert first.headers["location"] == f"/orders/{created['order_id']}"
    again = client.post("/orders", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == created
    assert again.headers["idempotent-replayed"] == "true"
    stored = count(api_platform, "SELECT count(*) FROM orders WHERE external_id = :e",
                   e=body["external_id"])  # fmt: skip
    assert stored == 1
    # the same order under another key is the stored order, not a second one
    other = client.post(
        "/orders", json=body, headers={**keys[ApiRole.SELLER], "Idempotency-Key": fresh("K")}
    )
    assert other.status_code == 200 and other.json()["status"] == "existing"
    assert other.json()["order_id"] == created["order_id"]
    shown = client.get(f"/orders/{created['order_id']}", headers=keys[ApiRole.SELLER])
    assert shown.status_code == 200
    assert shown.json()["goods"] == {"amount": "24.48", "currency": "EUR"}
    assert [ln["sku"] for ln in shown.json()["lines"]] == [p.sku for p in SELLER_PRODUCTS]


def test_same_key_with_another_body_is_a_conflict(
    client: TestClient, keys: dict[ApiRole, dict[str, str]]
) -> None:
    headers = {**keys[ApiRole.SELLER], "Idempotency-Key": fresh("K")}
    assert client.post("/orders", json=order_json(fresh()), headers=headers).status_code == 201
    problem = assert_problem(client.post("/orders", json=order_json(fresh()), headers=headers), 409)
    assert "Idempotency-Key" in problem["detail"]


def test_order_errors_name_the_field(
    client: TestClient, keys: dict[ApiRole, dict[str, str]], api_platform: Platform
) -> None:
    seller = {**keys[ApiRole.SELLER], "Idempotency-Key": fresh("K")}
    body = order_json(fresh())
    body["lines"][0]["hs_code"] = "999999"
    problem = assert_problem(client.post("/orders", json=body, headers=seller), 422)
    assert problem["errors"][0]["field"].endswith("hs_code")
    missing = assert_problem(
        client.post("/orders", json=order_json(fresh()), headers=keys[ApiRole.SELLER]), 422
    )
    assert any("Idempotency-Key" in e["field"] for e in missing["errors"])
    shape = assert_problem(client.post("/orders", json={"channel": 1}, headers=seller), 422)
    assert {"body.external_id", "body.lines"} <= {e["field"] for e in shape["errors"]}
    malformed = client.post(
        "/orders", content=b"{not json", headers={**seller, "content-type": "application/json"}
    )
    assert_problem(malformed, 400)
    late = order_json(fresh(), placed_at=API_UNTIL.replace(year=API_UNTIL.year + 1))
    problem = assert_problem(client.post("/orders", json=late, headers=seller), 422)
    assert problem["errors"][0]["field"] == "placed_at"
    # a rejected order stored nothing, so the key is still free for a corrected request
    assert client.post("/orders", json=order_json(fresh()), headers=seller).status_code == 201


def test_tenants_write_only_their_own_orders(
    client: TestClient, keys: dict[ApiRole, dict[str, str]], api_platform: Platform
) -> None:
    foreign = order_json(fresh(), seller_id="seller-hz-silk")
    refused = client.post(
        "/orders", json=foreign, headers={**keys[ApiRole.SELLER], "Idempotency-Key": fresh()}
    )
    assert_problem(refused, 422)
    assert refused.json()["errors"][0] == {"field": "seller_id", "reason": "not your party"}
    placed = order_json(fresh())
    made = client.post(
        "/orders", json=placed, headers={**keys[ApiRole.PLATFORM], "Idempotency-Key": fresh()}
    )
    assert made.status_code == 201, made.text
    stored = count(api_platform, "SELECT count(*) FROM orders WHERE external_id = :e "
                   "AND platform_id = :p", e=placed["external_id"], p=PLATFORM)  # fmt: skip
    assert stored == 1
    carrier = client.post(
        "/orders", json=order_json(fresh()),
        headers={**keys[ApiRole.CARRIER], "Idempotency-Key": fresh()},
    )  # fmt: skip
    assert_problem(carrier, 403)


# --- bulk -------------------------------------------------------------------------------------
def test_bulk_ndjson_reports_every_line(
    client: TestClient, keys: dict[ApiRole, dict[str, str]], api_platform: Platform
) -> None:
    good = [order_json(fresh("B")) for _ in range(5)]
    bad = order_json(fresh("B"))
    bad["currency"] = "XXX"
    changed = {**good[0], "freight": "99.00"}
    lines = [json.dumps(o) for o in good[:3]]
    lines += ["", "{broken", json.dumps(bad), json.dumps(good[3]), json.dumps(changed)]
    lines += [json.dumps(good[4]), json.dumps(good[1])]
    body = ("\n".join(lines) + "\n").encode()
    response = client.post("/orders/bulk", content=body, headers={
        **keys[ApiRole.SELLER], "content-type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 200, response.text
    report = [json.loads(line) for line in response.text.splitlines()]
    by_line = {r["line"]: r for r in report}
    assert sorted(by_line) == [1, 2, 3, 5, 6, 7, 8, 9, 10]  # line 4 is blank
    assert [by_line[n]["status"] for n in (1, 2, 3, 7, 9)] == ["created"] * 5
    assert by_line[5]["status"] == "rejected" and by_line[5]["error"]["field"] == "json"
    assert by_line[6]["error"]["field"] == "currency"
    assert by_line[8]["status"] == "rejected"  # same key as line 1, other content
    assert by_line[10] == {"line": 10, "status": "existing", "order_id": by_line[2]["order_id"]}
    assert response.headers["x-orders-created"] == "5"
    assert response.headers["x-orders-rejected"] == "3"
    ids = [o["external_id"] for o in good]
    stored = count(api_platform, "SELECT count(*) FROM orders WHERE external_id IN "
                   f"({', '.join(repr(i) for i in ids)})")  # fmt: skip
    assert stored == 5
    again = client.post("/orders/bulk", content=body, headers=keys[ApiRole.SELLER])
    statuses = [json.loads(line)["status"] for line in again.text.splitlines()]
    assert statuses.count("existing") == 6 and "created" not in statuses


# --- limits, auth, errors ---------------------------------------------------------------------
def test_body_size_limits(api_platform: Platform, make_key: MakeKey, tmp_path: Any) -> None:
    small = ApiSettings(max_json_bytes=2048, max_bulk_bytes=4096, rate_limit_per_minute=0,
                        data_dir=tmp_path)  # fmt: skip
    token = make_key(SELLER, ApiRole.SELLER)[0]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": fresh()}
    with TestClient(create_app(api_platform, settings=small)) as c:
        big = order_json(fresh())
        big["lines"] = big["lines"] * 40
        problem = assert_problem(c.post("/orders", json=big, headers=headers), 413)
        assert "2048" in problem["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(10):
                yield (json.dumps(order_json(fresh())) + "\n").encode()

        assert_problem(c.post("/orders/bulk", content=chunks(), headers=headers), 413)
        fits = c.post("/orders/bulk", content=json.dumps(order_json(fresh())).encode() + b"\n",
                      headers=headers)  # fmt: skip
        assert fits.status_code == 200 and '"created"' in fits.text


def test_rate_limit_per_key(api_platform: Platform, make_key: MakeKey, tmp_path: Any) -> None:
    limited = ApiSettings(rate_limit_per_minute=3, data_dir=tmp_path)
    first = {"Authorization": f"Bearer {make_key(SELLER, ApiRole.SELLER)[0]}"}
    second = {"X-API-Key": make_key(SELLER, ApiRole.SELLER)[0]}
    with TestClient(create_app(api_platform, settings=limited)) as c:
        assert [c.get("/orders?limit=1", headers=first).status_code for _ in range(3)] == [200] * 3
        problem = assert_problem(c.get("/orders?limit=1", headers=first), 429)
        assert int(c.get("/orders", headers=first).headers["retry-after"]) >= 1
        assert "rate limit" in problem["detail"]
        assert c.get("/orders?limit=1", headers=second).status_code == 200  # per key


def test_authentication(client: TestClient, keys: dict[ApiRole, dict[str, str]]) -> None:
    problem = assert_problem(client.get("/orders"), 401)
    assert "API key" in problem["detail"]
    assert client.get("/orders").headers["www-authenticate"].startswith("Bearer")
    assert_problem(client.get("/orders", headers={"Authorization": "Bearer xbk_nope"}), 401)
    token = keys[ApiRole.SELLER]["Authorization"].removeprefix("Bearer ")
    assert client.get("/orders", headers={"X-API-Key": token}).status_code == 200
    client.cookies.set("xb_session", token)
    try:
        assert client.get("/orders").status_code == 200
    finally:
        client.cookies.clear()


def test_unknown_paths_methods_and_crashes_are_problems(
    api_platform: Platform, client: TestClient, tmp_path: Any
) -> None:
    assert_problem(client.get("/no/such/thing"), 404)
    assert_problem(client.delete("/orders"), 405)
    app = create_app(api_platform, settings=ApiSettings(data_dir=tmp_path))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as c:
        problem = assert_problem(c.get("/boom"), 500)
        assert "secret" not in c.get("/boom").text
        assert problem["detail"].startswith("an internal error occurred (incident ")


# --- reads ------------------------------------------------------------------------------------
def test_pagination_is_stable_and_complete(
    client: TestClient, keys: dict[ApiRole, dict[str, str]], api_platform: Platform
) -> None:
    headers = keys[ApiRole.OPERATOR]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 37}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/orders", params=params, headers=headers).json()
        assert len(page["items"]) <= 37
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert len(seen) == count(api_platform, "SELECT count(*) FROM orders")
    assert_problem(client.get("/orders?cursor=bm9wZQ", headers=headers), 422)
    assert_problem(client.get("/orders?limit=0", headers=headers), 422)


def test_public_tracking_shows_the_buyer_view_only(
    client: TestClient, api_platform: Platform
) -> None:
    with api_platform.engine.connect() as conn:
        tracking, postcode = conn.execute(text(
            "SELECT tracking_no, destination_postcode FROM parcels WHERE status = 'delivered' "
            "ORDER BY id LIMIT 1")).one()  # fmt: skip
    found = client.get(f"/track/{tracking}", params={"postcode": f" {postcode.lower()} "})
    assert found.status_code == 200, found.text
    view = found.json()
    assert view["state"] == "delivered" and view["status"] == "Delivered"
    assert view["estimated_by"] == view["delivered_at"][:10]
    assert view["promised_by"] is not None
    assert {k for p in view["timeline"] for k in p} <= {"time", "status", "place"}
    assert "party" not in found.text and "eventID" not in found.text
    wrong = assert_problem(client.get(f"/track/{tracking}", params={"postcode": "00000"}), 404)
    unknown = assert_problem(client.get("/track/XB999999999999", params={"postcode": "00000"}),
                             404)  # fmt: skip
    assert wrong["title"] == unknown["title"]


def test_declaration_match_and_ceb_messages(
    client: TestClient, keys: dict[ApiRole, dict[str, str]], api_platform: Platform,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    with api_platform.engine.connect() as conn:
        order_id, other_id = conn.execute(
            text(
                "SELECT d.order_id FROM customs_declarations d WHERE d.regime = 'CN' AND "
                "EXISTS (SELECT 1 FROM payments p WHERE p.order_id = d.order_id) AND "
                "EXISTS (SELECT 1 FROM parcels c WHERE c.order_id = d.order_id) "
                "ORDER BY d.id LIMIT 2"
            )
        ).scalars()
    headers = keys[ApiRole.OPERATOR]
    shown = client.get(f"/declarations/{order_id}", headers=headers).json()
    assert shown["regime"] == "CN" and "landed_cost" in shown["amounts"]
    for name in ("XBORDER_CEB_CONFIG", "XBORDER_CEB_COP_CODE", "XBORDER_CEB_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    unset = client.get(f"/declarations/{order_id}/ceb/CEB311", headers=headers)
    assert "XBORDER_CEB_COP_CODE" in assert_problem(unset, 422)["detail"]  # identity is config
    monkeypatch.setenv("XBORDER_CEB_COP_CODE", "4101960ABC")
    monkeypatch.setenv("XBORDER_CEB_COP_NAME", "Zhengzhou Demo Declaring Co.")
    monkeypatch.setenv("XBORDER_CEB_DXP_ID", "DXPENT0000000001")
    # The demo world stores every fact the four messages need, so a paid, packed China import
    # order's messages validate against the GACC 202205 import schema. The API writes the list
    # unsigned (the enterprise's signing client signs it); signed here with a throw-away key,
    # since the schema requires ds:Signature in CEB621.
    key, cert = (path.read_bytes() for path in key_and_cert(tmp_path))
    for code in ("CEB311", "CEB411", "CEB511", "CEB621"):
        written = client.get(f"/declarations/{order_id}/ceb/{code}", headers=headers)
        assert written.status_code == 200, written.text
        assert written.headers["content-type"].startswith("application/xml")
        xml = sign(written.content, key, cert) if code == "CEB621" else written.content
        assert schema_errors(xml) == [], code
        root = etree.fromstring(written.content)
        assert root.tag == f"{{{NS}}}{code}Message"
        assert root.findtext(f".//{{{NS}}}orderNo") == shown["order_no"]
    assert_problem(client.get(f"/declarations/{order_id}/ceb/CEB999", headers=headers), 422)
    # A fact the store lacks is never made up: without the buyer's platform account the order
    # message is refused naming the schema's field.
    with api_platform.engine.begin() as conn:
        account = conn.execute(text("SELECT buyer_email FROM orders WHERE id = :i"),
                               {"i": other_id}).scalar_one()  # fmt: skip
        conn.execute(text("UPDATE orders SET buyer_email = NULL WHERE id = :i"), {"i": other_id})
    try:
        refused = client.get(f"/declarations/{other_id}/ceb/CEB311", headers=headers)
        assert "records[0].buyerRegNo" in assert_problem(refused, 422)["detail"]
    finally:
        with api_platform.engine.begin() as conn:
            conn.execute(text("UPDATE orders SET buyer_email = :a WHERE id = :i"),
                         {"a": account, "i": other_id})  # fmt: skip
    assert account


def test_payments_quotes_statements(
    client: TestClient, keys: dict[ApiRole, dict[str, str]]
) -> None:
    body = order_json(fresh("P"))
    made = client.post("/orders", json=body,
                       headers={**keys[ApiRole.SELLER], "Idempotency-Key": fresh()})  # fmt: skip
    payment = {"channel": "api-test", "external_id": body["external_id"],
               "transaction_id": fresh("tx"), "payer_name": "Lena Vogel", "amount": "28.38",
               "currency": "EUR"}  # fmt: skip
    paid = client.post("/payments", json=payment, headers=keys[ApiRole.PAYMENT_PROVIDER])
    assert paid.status_code == 201, paid.text
    assert paid.json()["order_id"] == made.json()["order_id"] and paid.json()["fully_paid"]
    repeat = client.post("/payments", json=payment, headers=keys[ApiRole.PAYMENT_PROVIDER])
    assert repeat.status_code == 201 and repeat.json()["created"] is False
    as_other = {**payment, "provider": "pp-someone-else"}
    assert_problem(client.post("/payments", json=as_other,
                               headers=keys[ApiRole.PAYMENT_PROVIDER]), 403)  # fmt: skip
    listed = client.get("/payments", params={"order_id": made.json()["order_id"]},
                        headers=keys[ApiRole.SELLER]).json()  # fmt: skip
    assert [p["amount"] for p in listed["items"]] == [{"amount": "28.38", "currency": "EUR"}]
    quote = client.post("/quotes", headers=keys[ApiRole.SELLER], json={
        "origin": "CN", "destination": "DE", "currency": "EUR", "incoterm": "DDP",
        "lines": [{"hs_code": "610910", "qty": 2, "unit_price": "9.99"}]})  # fmt: skip
    assert quote.status_code == 200, quote.text
    assert quote.json()["regime"] == "EU" and quote.json()["landed_cost"] is not None
    own = client.get("/ledger/statement", headers=keys[ApiRole.SELLER]).json()
    assert own["party"] == SELLER and own["lines"]
    assert all(line["account"].startswith(f"{SELLER}:") for line in own["lines"])
    assert_problem(client.get("/ledger/statement", params={"party": PLATFORM},
                              headers=keys[ApiRole.SELLER]), 404)  # fmt: skip


def test_operator_actions_and_kpis(client: TestClient, keys: dict[ApiRole, dict[str, str]]) -> None:
    operator = keys[ApiRole.OPERATOR]
    plan = client.post("/plans", json={}, headers=operator)
    assert plan.status_code == 200, plan.text
    latest = client.get("/plans/latest", headers=operator).json()
    if plan.json()["plan_id"] is not None:
        assert latest["id"] == plan.json()["plan_id"]
    assert client.post("/parcels/pack", json={}, headers=operator).status_code == 200
    assert client.post("/consolidations", json={}, headers=operator).status_code == 200
    kpis = client.get("/kpis", headers=operator).json()
    assert kpis["currency"] == "CNY" and kpis["overall"]["orders"] >= 200
    assert_problem(client.get("/kpis", params={"start": "0001-01-01"}, headers=operator), 422)
    assert_problem(client.post("/plans", json={}, headers=keys[ApiRole.SELLER]), 403)


def test_simulation_run_and_report(client: TestClient, keys: dict[ApiRole, dict[str, str]]) -> None:
    operator = keys[ApiRole.OPERATOR]
    started = client.post(
        "/simulations",
        headers=operator,
        json={"scenarios": ["integrated"], "days": 1, "orders_per_day": 5, "drain_days": 2},
    )
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] == "done", run["error"]  # inline in tests
    shown = client.get(f"/simulations/{run['id']}", headers=operator).json()
    assert shown["kpis"]["integrated"]["orders"] >= 1  # a Poisson draw around 5
    assert shown["request"]["orders_per_day"] == 5 and shown["finished_at"] is not None
    report = client.get(shown["report"], headers=operator)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert_problem(client.get(f"/simulations/{'0' * 32}", headers=operator), 404)
    assert_problem(client.get(f"/simulations/{run['id']}", headers=keys[ApiRole.SELLER]), 403)


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/orders", "/orders/bulk", "/orders/{order_id}", "/payments", "/quotes",
                 "/plans", "/plans/latest", "/parcels", "/parcels/{tracking_no}",
                 "/parcels/pack", "/consolidations", "/declarations",
                 "/declarations/{order_id}", "/declarations/{order_id}/ceb/{message_type}",
                 "/track/{tracking_no}", "/ledger/statement", "/kpis", "/simulations",
                 "/simulations/{run_id}", "/simulations/{run_id}/report.html"):  # fmt: skip
        assert path in spec["paths"], path
    assert "Problem" in spec["components"]["schemas"]
