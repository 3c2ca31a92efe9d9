# ruff: noqa: F811  (the API fixtures are imported, then requested by name)
"""The web pages through the HTTP client: they render, escape hostile text, keep each party to
its own objects, and the buyer's tracking page shows nothing beyond the public view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from tests.api.conftest import (  # noqa: F401  (fixtures)
    PARTIES,
    MakeKey,
    api_keys_dir,
    api_platform,
    api_sqlite_template,
    make_key,
)
from tests.factories import make_order
from xborder.bootstrap import Platform
from xborder.services.access import ApiRole
from xborder.services.api_keys import RevokeKey, revoke_key
from xborder.services.capture import capture_batch, order_frames
from xborder.services.tenancy import OrdersFor, ParcelsFor, list_orders_for, parcels_for
from xborder.web.pages import router
from xborder.web.render import COOKIE

HOSTILE = "<script>alert(1)</script>"


def web_app(platform: Platform) -> FastAPI:
    """The pages as the API app mounts them (its factory may not exist while this is built)."""
    app = FastAPI()
    app.state.platform = platform
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("xborder.web", "static")]), name="static")
    return app


@pytest.fixture(scope="module")
def app(api_platform: Platform) -> FastAPI:
    return web_app(api_platform)


def client_for(app: FastAPI, token: str | None = None) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    if token is not None:
        client.cookies.set(COOKIE, token)
    return client


@pytest.fixture(scope="module")
def operator(app: FastAPI, make_key: MakeKey) -> Iterator[TestClient]:
    token, _ = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    with client_for(app, token) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with client_for(app) as client:
        yield client


def no_script(html: str) -> None:
    assert HOSTILE not in html
    assert "<script" not in html.replace('<script src="/static/simulations.js" defer>', "")


# --- login, session ---------------------------------------------------------------------------
def test_pages_that_need_a_login_send_to_the_login_form(anonymous: TestClient) -> None:
    for path in ("/", "/dashboard/orders", "/dashboard/parcels", "/dashboard/declarations",
                 "/dashboard/balances", "/seller", "/carrier", "/simulations"):  # fmt: skip
        response = anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    form = anonymous.get("/login?next=/dashboard/orders")
    assert form.status_code == 200
    assert 'name="token"' in form.text and 'value="/dashboard/orders"' in form.text


def test_login_sets_an_httponly_strict_cookie_and_a_bad_key_is_refused(
    app: FastAPI, make_key: MakeKey
) -> None:
    token, _ = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    with client_for(app) as client:
        bad = client.post("/login", data={"token": "xbk_000000000000_nope", "next": "/"})
        assert bad.status_code == 401 and "was not accepted" in bad.text
        assert COOKIE not in bad.cookies
        good = client.post("/login", data={"token": token, "next": "//evil.example/x"})
        assert good.status_code == 303
        assert good.headers["location"] == "/"  # only paths of this site follow a login
        cookie = good.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={token};")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert client.get("/").status_code == 200
        out = client.post("/logout")
        assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]


def test_a_cross_site_login_post_is_refused(app: FastAPI, make_key: MakeKey) -> None:
    token, _ = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    with client_for(app) as client:
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Origin": "null"}):  # fmt: skip
            response = client.post("/login", data={"token": token}, headers=headers)
            assert response.status_code == 403 and COOKIE not in response.cookies, headers
        same = client.post(
            "/login", data={"token": token}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert same.status_code == 303


def test_a_revoked_key_is_logged_out_at_once(
    app: FastAPI, api_platform: Platform, make_key: MakeKey
) -> None:
    token, principal = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    with client_for(app, token) as client:
        assert client.get("/dashboard/balances").status_code == 200
        revoke_key(api_platform.uow(), RevokeKey(principal.key_id))
        assert client.get("/dashboard/balances").status_code == 303


# --- the operator's pages -----------------------------------------------------------------------
def test_dashboard_shows_kpis_map_and_tables(operator: TestClient) -> None:
    response = operator.get("/")
    assert response.status_code == 200
    html = response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    for section in ('id="kpis"', 'id="map"', 'id="open-orders"', 'id="in-flight"',
                    'id="exceptions"', 'id="declarations"', 'id="balances"'):  # fmt: skip
        assert section in html, section
    assert len(re.findall(r'<figure class="card" data-kpi=', html)) == 11
    assert re.search(r'data-kpi="quote_variance_rate">.*?Assessed off the quote', html, re.S)
    assert re.search(r'data-kpi="orders">.*?<div class="value">\d[\d,]*</div>', html, re.S)
    assert re.search(r'data-kpi="gmv">.*?<div class="value">[\d,]+\.\d\d CNY</div>', html, re.S)
    assert re.search(r'data-kpi="on_time_rate">.*?<div class="value">\d+\.\d%</div>', html, re.S)
    assert html.count('class="country"') == 177
    assert html.count('class="warehouse kind-') >= 10
    assert html.count('class="lane mode-') >= 40
    assert re.search(r'<td class="num">[\d,]+(\.\d+)? [A-Z]{3}</td>', html)  # money formatted
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    no_script(html)


def test_operator_lists_page_with_cursors(operator: TestClient) -> None:
    first = operator.get("/dashboard/orders")
    assert first.status_code == 200
    ids = re.findall(r'<tr><td class="num">(\d+)</td>', first.text)
    assert len(ids) == 50
    link = re.search(r'href="/dashboard/orders\?cursor=([^"]+)" rel="next"', first.text)
    assert link is not None
    second = operator.get(f"/dashboard/orders?cursor={link.group(1)}")
    more = re.findall(r'<tr><td class="num">(\d+)</td>', second.text)
    assert more and not set(more) & set(ids) and int(more[0]) < int(ids[-1])
    paid = operator.get("/dashboard/orders?status=delivered")
    assert paid.status_code == 200 and "status s-delivered" in paid.text
    assert "s-paid" not in paid.text
    parcels = operator.get("/dashboard/parcels?status=delivered")
    assert parcels.status_code == 200 and "XB" in parcels.text
    balances = operator.get("/dashboard/balances")
    assert balances.status_code == 200
    assert re.search(r'<td class="num">-?[\d,]+(\.\d+)? [A-Z]{3}</td>', balances.text)
    assert operator.get("/dashboard/declarations").status_code == 200
    assert operator.get("/simulations").status_code == 200


def test_bad_input_is_a_page_that_shows_it_as_text(operator: TestClient) -> None:
    response = operator.get("/dashboard/orders", params={"status": HOSTILE})
    assert response.status_code == 400
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    no_script(response.text)
    assert operator.get("/dashboard/orders", params={"cursor": "not-a-cursor"}).status_code == 400


def test_hostile_stored_text_is_escaped(
    api_platform: Platform, make_key: MakeKey, app: FastAPI
) -> None:
    order = make_order(external_id=f"X{HOSTILE}", seller_id=PARTIES[ApiRole.SELLER])
    report = capture_batch(api_platform.uow(), order_frames([order]))
    assert report is not None
    token, _ = make_key(PARTIES[ApiRole.SELLER], ApiRole.SELLER)
    with client_for(app, token) as client:
        html = client.get("/seller").text
    assert "X&lt;script&gt;alert(1)&lt;/script&gt;" in html
    no_script(html)


# --- parties see their own --------------------------------------------------------------------
def test_a_seller_sees_only_its_orders_and_its_statement(
    app: FastAPI, api_platform: Platform, make_key: MakeKey
) -> None:
    token, principal = make_key(PARTIES[ApiRole.SELLER], ApiRole.SELLER)
    _, op = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    everyone = list_orders_for(api_platform.uow(), OrdersFor(op, limit=500)).items
    mine = {o["external_id"] for o in everyone if o["seller_id"] == principal.party_id}
    theirs = {o["external_id"] for o in everyone if o["seller_id"] != principal.party_id}
    assert mine and theirs
    with client_for(app, token) as client:
        assert client.get("/").headers["location"] == "/seller"
        html = client.get("/seller?status=").text
        shown = {unescape(s) for s in re.findall(r"<td>[^<]*? / ([^<]+)</td>", html)}
        assert shown and shown <= mine
        assert not shown & theirs
        assert 'id="statement"' in html and "Your statement" in html
        for path in ("/dashboard/balances", "/dashboard/declarations", "/simulations", "/carrier"):
            assert client.get(path).status_code == 403, path


def test_a_carrier_sees_only_its_parcels(
    app: FastAPI, api_platform: Platform, make_key: MakeKey
) -> None:
    token, principal = make_key(PARTIES[ApiRole.CARRIER], ApiRole.CARRIER)
    _, op = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    carried = parcels_for(api_platform.uow(), ParcelsFor(principal, limit=500)).items
    mine = {p["tracking_no"] for p in carried}
    every = {
        p["tracking_no"] for p in parcels_for(api_platform.uow(), ParcelsFor(op, limit=500)).items
    }
    assert mine and every - mine
    with client_for(app, token) as client:
        assert client.get("/").headers["location"] == "/carrier"
        html = client.get("/carrier").text
        shown = set(re.findall(r"<tr><td>(XB\d+)</td>", html))
        assert shown and shown <= mine
        assert client.get("/seller").status_code == 403
        assert client.get("/dashboard/orders").status_code == 403  # no orders:read scope


# --- the buyer's tracking page ------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped(api_platform: Platform, make_key: MakeKey) -> dict[str, object]:
    """A delivered parcel and one still on its way, with their postcodes."""
    _, op = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    found = parcels_for(api_platform.uow(), ParcelsFor(op, limit=500)).items
    with api_platform.uow() as uow:
        sscc = {r["id"]: r["sscc"] for r in uow.parcels.by_ids([r["id"] for r in found]).to_dicts()}
        for parcel in found:  # the postcode, which only the buyer (and the store) knows
            parcel["destination_postcode"] = uow.trace.parcel(tracking_no=parcel["tracking_no"])[
                "destination_postcode"
            ]  # type: ignore[index]
            parcel["sscc"] = sscc[parcel["id"]]
    delivered = next(p for p in found if p["status"] == "delivered")
    moving = next(p for p in found if p["status"] not in ("delivered", "lost", "returned"))
    return {"delivered": delivered, "moving": moving, "all": found}


def tracking(parcel: dict[str, object]) -> dict[str, str]:
    return {
        "tracking_no": str(parcel["tracking_no"]),
        "postcode": str(parcel["destination_postcode"]),
    }


def test_the_tracking_form_leads_to_the_timeline(
    anonymous: TestClient, shipped: dict[str, dict[str, object]]
) -> None:
    parcel = shipped["delivered"]
    form = anonymous.get("/track")
    assert form.status_code == 200 and 'id="track-form"' in form.text
    page = anonymous.get(
        "/track",
        params={"tracking_no": parcel["tracking_no"], "postcode": parcel["destination_postcode"]},
    )
    assert page.status_code == 200
    html = page.text
    assert 'id="state">Delivered</dd>' in html
    assert f'id="delivered">{parcel["delivered_at"].date().isoformat()}</dd>' in html  # type: ignore[attr-defined]
    assert f'id="promised">{parcel["promised_by"].isoformat()}</dd>' in html  # type: ignore[attr-defined]
    steps = re.findall(r'<td class="step">([^<]+)</td>', html)
    assert steps[0] == "Delivered" and "Packed" in steps and steps[-1] == "Order placed"
    assert page.headers["referrer-policy"] == "same-origin"


def test_a_parcel_on_its_way_has_an_estimate(
    anonymous: TestClient, shipped: dict[str, dict[str, object]]
) -> None:
    parcel = shipped["moving"]
    html = anonymous.get("/track", params=tracking(parcel)).text
    assert re.search(r'id="estimated">\d{4}-\d\d-\d\d</dd>', html)
    assert 'id="delivered"' not in html


def test_a_wrong_postcode_finds_nothing(
    anonymous: TestClient, shipped: dict[str, dict[str, object]]
) -> None:
    parcel = shipped["delivered"]
    wrong = anonymous.get(
        "/track", params={"tracking_no": parcel["tracking_no"], "postcode": "00000-XX"}
    )
    unknown = anonymous.get(
        "/track", params={"tracking_no": "XB999999999999", "postcode": "00000-XX"}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert 'id="not-found"' in wrong.text and 'id="not-found"' in unknown.text
    assert "Delivered" not in wrong.text and 'class="step"' not in wrong.text
    hostile = anonymous.get("/track", params={"tracking_no": HOSTILE, "postcode": HOSTILE})
    assert hostile.status_code == 404
    no_script(hostile.text)


def test_the_tracking_page_shows_nothing_beyond_the_public_view(
    anonymous: TestClient, api_platform: Platform, shipped: dict[str, dict[str, object]]
) -> None:
    parcel = shipped["delivered"]
    html = anonymous.get("/track", params=tracking(parcel)).text
    with api_platform.uow() as uow:
        parties = uow.kpis.parties().get_column("party").to_list()
        order = uow.orders.load([int(parcel["order_id"])])[0].row(0, named=True)  # type: ignore[call-overload]
        ids = [parcel[k] for k in ("warehouse_id", "lane_id", "last_mile_id", "consolidation_id")]
    for party in parties:
        assert f">{party}<" not in html and f" {party} " not in html, party
    for ident in [*ids, parcel["sscc"], parcel["id"], order["external_id"], order["buyer_name"]]:
        assert not ident or str(ident) not in html, ident
    assert "https://" not in html and "urn:" not in html and "xborder.dev" not in html
    assert not re.search(r"\d \b(CNY|USD|EUR|GBP|JPY|AUD|CAD|KRW|PLN)\b", html)  # no prices
    assert str(order["currency"]) not in re.sub(r"<[^>]+>", " ", html).split()


def test_the_tracking_page_speaks_chinese(
    anonymous: TestClient, shipped: dict[str, dict[str, object]]
) -> None:
    parcel = shipped["delivered"]
    url, params = "/track", tracking(parcel)
    zh = anonymous.get(url, params={**params, "lang": "zh"})
    assert zh.headers["content-language"] == "zh"
    assert '<html lang="zh-CN">' in zh.text and "物流轨迹" in zh.text
    assert 'id="state">已签收</dd>' in zh.text
    assert re.findall(r'<td class="step">([^<]+)</td>', zh.text)[0] == "已签收"
    switch = re.search(r'id="lang-switch" href="([^"]+)"', zh.text)
    assert switch is not None and "lang=en" in switch.group(1)
    assert "postcode=" in switch.group(1) and "tracking_no=" in switch.group(1)
    by_header = anonymous.get(url, params=params, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "物流轨迹" in by_header.text
    english = anonymous.get(url, params={**params, "lang": "en"},
                            headers={"Accept-Language": "zh-CN"})  # fmt: skip
    assert "Timeline" in english.text and "物流轨迹" not in english.text


def test_static_files_are_served(anonymous: TestClient) -> None:
    css = anonymous.get("/static/app.css")
    assert css.status_code == 200 and "network-map" in css.text
    assert "@import" not in css.text and "url(" not in css.text  # nothing fetched
    world = anonymous.get("/static/world/SOURCE.md")
    assert world.status_code == 200 and "2516c915867c7baf" in world.text
