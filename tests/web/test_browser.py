"""The web UI in a real headless Chromium (the Debian package) against the real app served by
uvicorn on a loopback port: log in with a key, see the dashboard with its map and KPI figures,
find a parcel by tracking number and postcode, read its timeline, switch to Chinese and read it
again. No console errors, no page errors, and no request leaves the loopback server.

Skips only on a developer machine without any Chromium; under CI (``CI`` set) a missing
Chromium fails, so the check cannot silently disappear. Playwright drives the system browser;
it never downloads one.
"""

# ruff: noqa: F811  (the API fixtures are imported, then requested by name)
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Route

from tests.api.conftest import (  # noqa: F401  (fixtures)
    PARTIES,
    MakeKey,
    api_keys_dir,
    api_platform,
    api_sqlite_template,
    make_key,
)
from tests.browser import launch_chromium
from xborder.api.app import create_app
from xborder.bootstrap import Platform
from xborder.services.access import ApiRole
from xborder.services.tenancy import ParcelsFor, parcels_for


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_chromium()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(api_platform: Platform) -> Iterator[str]:
    """The real app (``create_app``) served by uvicorn in a thread on a free loopback port."""
    port = free_port()
    config = uvicorn.Config(
        create_app(api_platform), host="127.0.0.1", port=port, log_level="warning"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@dataclass
class Visit:
    """What the pages did: console errors, uncaught errors, requests that tried to leave."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def visit(browser: Browser, server: str) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    seen = Visit(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.console_errors.append(message.text)

    def on_route(route: Route) -> None:
        url = route.request.url
        seen.requests.append(url)
        if url.startswith(server + "/"):
            route.continue_()
        else:
            seen.blocked.append(url)
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    context.route("**/*", on_route)
    try:
        yield seen
    finally:
        context.close()


def assert_clean(visit: Visit) -> None:
    assert visit.console_errors == []
    assert visit.page_errors == []
    assert visit.blocked == []
    assert visit.requests  # the route handler saw the traffic it judged


def test_log_in_see_the_dashboard_and_follow_a_parcel_in_two_languages(
    visit: Visit, server: str, api_platform: Platform, make_key: MakeKey
) -> None:
    token, operator = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    page = visit.page

    page.goto(f"{server}/", wait_until="load")
    assert page.url.startswith(f"{server}/login?next=")
    page.fill("#token", token)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{server}/")
    assert page.title().startswith("Dashboard")
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "xb_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # no script can read the key

    # the map: countries, warehouses and lanes drawn in a real SVG layout
    assert page.locator("svg.network-map path.country").count() == 177
    assert page.locator("svg.network-map circle.warehouse").count() >= 10
    assert page.locator("svg.network-map path.lane").count() >= 40
    box = page.locator("svg.network-map").bounding_box()
    assert box is not None and box["width"] > 800 and box["height"] > 250
    china = page.locator('svg.network-map path.country[data-id="156"]').bounding_box()
    assert china is not None and china["width"] > 20  # a country really painted
    # KPI figures
    orders = page.locator('[data-kpi="orders"] .value').inner_text()
    assert int(orders.replace(",", "")) > 0
    assert page.locator('[data-kpi="gmv"] .value').inner_text().endswith(" CNY")
    assert page.locator('[data-kpi="on_time_rate"] .value').inner_text().endswith("%")
    assert page.locator("figure.card svg.spark").count() == 11

    # a buyer's parcel by tracking number and postcode
    delivered = next(
        p for p in parcels_for(api_platform.uow(), ParcelsFor(operator, "delivered")).items
    )
    with api_platform.uow() as uow:
        facts = uow.trace.parcel(tracking_no=delivered["tracking_no"])
    assert facts is not None
    page.click('header nav a[href="/track"]')
    page.fill("#tracking_no", str(delivered["tracking_no"]))
    page.fill("#postcode", str(facts["destination_postcode"]))
    page.click("#track-form button[type=submit]")
    page.wait_for_selector("#timeline")
    assert page.locator("#tracking-no").inner_text() == delivered["tracking_no"]
    assert page.locator("#state").inner_text() == "Delivered"
    steps = page.locator("#timeline td.step").all_inner_texts()
    assert steps[0] == "Delivered" and steps[-1] == "Order placed" and "Packed" in steps
    places = [p for p in page.locator("#timeline td:nth-child(3)").all_inner_texts() if p]
    assert places and not any("://" in p for p in places)

    # the same timeline in Chinese
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=zh-CN]")
    assert page.locator("#timeline h2").inner_text() == "物流轨迹"
    assert page.locator("#state").inner_text() == "已签收"
    zh_steps = page.locator("#timeline td.step").all_inner_texts()
    assert len(zh_steps) == len(steps) and zh_steps[0] == "已签收" and zh_steps[-1] == "已下单"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("#timeline td.step").all_inner_texts() == steps

    assert_clean(visit)

    # a wrong postcode finds nothing, in words (the page's own 404 is the one error logged)
    page.goto(f"{server}/track", wait_until="load")
    page.fill("#tracking_no", str(delivered["tracking_no"]))
    page.fill("#postcode", "00000-XX")
    page.click("#track-form button[type=submit]")
    page.wait_for_selector("#not-found")
    assert page.locator("#timeline").count() == 0
    assert visit.console_errors == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
    assert visit.page_errors == [] and visit.blocked == []


def test_the_simulation_page_loads_its_script_cleanly(
    visit: Visit, server: str, make_key: MakeKey
) -> None:
    token, _ = make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)
    page = visit.page
    page.goto(f"{server}/login?next=/simulations", wait_until="load")
    page.fill("#token", token)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{server}/simulations")
    page.wait_for_load_state("load")
    assert page.locator("#sim-form").count() == 1
    assert f"{server}/static/simulations.js" in visit.requests
    assert_clean(visit)
