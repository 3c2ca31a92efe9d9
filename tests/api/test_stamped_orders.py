"""Orders sent without ``placed_at``: the platform stamps the capture time, and a repeat of the
same order is ``existing``, not a conflict over the time it arrived.

Found by re-uploading the benchmark's NDJSON file: every order came back "already captured with
different content", because each upload stamped a new time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PARTIES, MakeKey
from tests.api.test_api import fresh, order_json
from xborder.api.app import create_app
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.domain.clock import SettableClock
from xborder.services.access import ApiRole


@pytest.fixture(scope="module")
def client(
    api_platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = ApiSettings(rate_limit_per_minute=0, data_dir=tmp_path_factory.mktemp("stamp"))
    with TestClient(create_app(api_platform, settings=settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def seller(make_key: MakeKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(PARTIES[ApiRole.SELLER], ApiRole.SELLER)[0]}"}


@pytest.fixture(scope="module")
def promise(api_platform: Platform) -> str:
    """A delivery promise after the platform's now (the stamp)."""
    return (api_platform.clock.now().date() + timedelta(days=30)).isoformat()


def unstamped(external_id: str, promise: str) -> dict[str, Any]:
    record = order_json(external_id, promised_by=promise)
    record.pop("placed_at", None)
    return record


def later(platform: Platform) -> None:
    """The clock moves on between two requests, as a server's does (the fixture's stands)."""
    clock = platform.clock
    assert isinstance(clock, SettableClock)
    clock.advance(timedelta(seconds=1))


def test_a_reuploaded_file_of_unstamped_orders_is_existing(
    client: TestClient, seller: dict[str, str], promise: str, api_platform: Platform
) -> None:
    body = "\n".join(json.dumps(unstamped(fresh("S"), promise)) for _ in range(3)).encode()
    headers = {**seller, "content-type": "application/x-ndjson"}
    first = [
        json.loads(x)
        for x in client.post("/orders/bulk", content=body, headers=headers).text.splitlines()
    ]
    later(api_platform)
    again = [
        json.loads(x)
        for x in client.post("/orders/bulk", content=body, headers=headers).text.splitlines()
    ]
    assert [r["status"] for r in first] == ["created"] * 3, first
    assert [r["status"] for r in again] == ["existing"] * 3, again
    assert [r["order_id"] for r in again] == [r["order_id"] for r in first]


def test_a_retry_under_a_new_idempotency_key_is_existing(
    client: TestClient, seller: dict[str, str], promise: str, api_platform: Platform
) -> None:
    record = unstamped(fresh("R"), promise)
    created = client.post("/orders", json=record, headers={**seller, "Idempotency-Key": fresh("K")})
    assert created.status_code == 201, created.text
    later(api_platform)
    retry = client.post("/orders", json=record, headers={**seller, "Idempotency-Key": fresh("K")})
    assert retry.status_code == 200, retry.text
    assert retry.json()["order_id"] == created.json()["order_id"]
    assert retry.json()["status"] == "existing"
    # a time the caller gives is content: another one is still a conflict
    dated = {**record, "placed_at": "2026-11-20T08:00:00Z"}
    conflict = client.post("/orders", json=dated, headers={**seller, "Idempotency-Key": fresh("K")})
    assert conflict.status_code == 409, conflict.text
