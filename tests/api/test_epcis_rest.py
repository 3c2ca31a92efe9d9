"""The EPCIS 2.0 REST bindings over the trace ledger (``xborder.api.epcis``, mounted at /epcis).

Runs on the API scenario's store (``api_platform``): parcels, bags and their lifecycle events
exist for every kind of party. Tests of this module share that store, so each capture uses a
party or a document of its own. The official example documents come from ``tests/data/epcis``
and the bindings themselves (``openapi.yaml``) from ``tests/data/epcis-rest-bindings``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import PARTIES, MakeKey
from xborder.api import problems
from xborder.api.epcis import VERSIONS, router
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.services.access import ApiRole
from xborder.services.trace import QueryEvents, Verify, Viewer, query, verify
from xborder.trace.schema import problems as schema_problems

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLES = DATA / "epcis" / "examples"
BINDINGS = DATA / "epcis-rest-bindings" / "openapi.yaml"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CARRIER = PARTIES[ApiRole.CARRIER]
WAREHOUSE = PARTIES[ApiRole.WAREHOUSE]
BROKER = PARTIES[ApiRole.BROKER]
SELLER = PARTIES[ApiRole.SELLER]


def _example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / name).read_text("utf-8"))
    return doc


@pytest.fixture(scope="module")
def bindings() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(BINDINGS.read_text("utf-8"))
    return spec


def _app(platform: Platform) -> FastAPI:
    """The router as the API mounts it, with the API's problem handlers."""
    app = FastAPI()
    problems.install(app)
    app.state.platform = platform
    app.state.settings = ApiSettings(rate_limit_per_minute=0)
    app.include_router(router, prefix="/epcis")
    return app


@pytest.fixture(scope="module")
def client(api_platform: Platform) -> Iterator[TestClient]:
    with TestClient(_app(api_platform), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keys(make_key: MakeKey) -> dict[str, str]:
    """Tokens: each party with its role's default scopes, plus narrowed keys."""
    out = {
        "operator": make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)[0],
        "carrier": make_key(CARRIER, ApiRole.CARRIER)[0],
        "warehouse": make_key(WAREHOUSE, ApiRole.WAREHOUSE)[0],
        "broker": make_key(BROKER, ApiRole.BROKER)[0],
        "seller": make_key(SELLER, ApiRole.SELLER)[0],
        "carrier_read_only": make_key(CARRIER, ApiRole.CARRIER, ["trace:read"])[0],
        "carrier_no_trace": make_key(CARRIER, ApiRole.CARRIER, ["parcels:read"])[0],
    }
    return out


def _app_of(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _capture(client: TestClient, token: str, doc: Any) -> Any:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    headers = {**_auth(token), "Content-Type": "application/ld+json"}
    return client.post("/epcis/capture", content=body, headers=headers)


def _all_pages(client: TestClient, token: str, query: str) -> tuple[list[dict[str, Any]], int]:
    """Every event of a query, following ``Link: rel="next"``; and how many pages it took."""
    events: list[dict[str, Any]] = []
    url: str | None = f"/epcis/events?{query}"
    pages = 0
    while url is not None:
        answer = client.get(url, headers=_auth(token))
        assert answer.status_code == 200, answer.text
        pages += 1
        events.extend(answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
        link = answer.headers.get("link")
        url = re.match(r'<([^>]+)>; rel="next"', link).group(1) if link else None  # type: ignore[union-attr]
        assert pages < 500
    return events, pages


def _without_record_time(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "recordTime"} for e in events]


def _ledger_rows(platform: Platform) -> list[Any]:
    with platform.uow() as uow:
        return uow.trace.query(["id", "party_id", "batch_id", "document"])


# ---- discovery -----------------------------------------------------------------------------------


def test_discovery_announces_versions_and_extensions(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.options("/epcis/", headers=_auth(keys["seller"]))
    assert answer.status_code == 204
    assert answer.headers["allow"] == "OPTIONS"
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    assert answer.headers["GS1-Extensions"] == "xb=https://xborder.dev/voc/"
    capture = client.options("/epcis/capture", headers=_auth(keys["seller"]))
    assert capture.status_code == 204
    assert set(capture.headers["allow"].split(", ")) == {"OPTIONS", "GET", "POST"}
    assert capture.headers["GS1-EPCIS-Capture-Limit"] == "10000"
    assert capture.headers["GS1-Capture-Error-Behaviour"] == "rollback"
    assert int(capture.headers["GS1-EPCIS-Capture-File-Size-Limit"]) == 64 * 1024 * 1024
    assert client.options("/epcis/").status_code == 401


def test_discovery_headers_are_the_bindings_own(bindings: dict[str, Any]) -> None:
    responses = bindings["components"]["responses"]
    defined = set(responses["204DefaultDiscoveryResponse"]["headers"])
    capture = set(responses["204CaptureEndpointDiscovery"]["headers"])
    assert set(VERSIONS) <= defined
    assert {"GS1-EPCIS-Capture-Limit", "GS1-Capture-Error-Behaviour"} <= capture
    pattern = re.compile(bindings["components"]["schemas"]["version"]["pattern"])
    assert all(
        pattern.match(VERSIONS[h])
        for h in VERSIONS
        if h.endswith(("Version", "Min", "Max")) and h.startswith(("GS1-EPCIS", "GS1-CBV"))
    )


def test_query_parameters_are_those_the_bindings_define(
    bindings: dict[str, Any], client: TestClient
) -> None:
    from xborder.services.epcis_events import QUERY_PARAMETERS

    params = bindings["paths"]["/events"]["get"]["parameters"]
    names = {p["$ref"].rsplit("/", 1)[-1] for p in params}
    declared = {p["name"] for p in bindings["components"]["parameters"].values() if "name" in p}
    assert set(QUERY_PARAMETERS) <= names & declared
    ours = _app_of(client).openapi()["paths"]["/epcis/events"]["get"]["parameters"]
    assert {p["name"] for p in ours if p["in"] == "query"} <= declared


# ---- capture -------------------------------------------------------------------------------------

CAPTURED = (
    "Example_9.6.1-ObjectEvent.jsonld",
    "Example_9.6.3-AggregationEvent.jsonld",
    "Example-TransactionEvents-2020_07_03y.jsonld",
)


def test_capture_of_official_examples_is_a_finished_job(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    token = keys["warehouse"]
    for name in CAPTURED:
        doc = _example(name)
        answer = _capture(client, token, doc)
        assert answer.status_code == 202, answer.text
        location = answer.headers["location"]
        assert re.fullmatch(r"/epcis/capture/cj[0-9a-f]{32}", location)
        assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
        job = client.get(location, headers=_auth(token))
        assert job.status_code == 200
        state = job.json()
        assert state["captureID"] == location.rsplit("/", 1)[1]
        assert state["running"] is False
        assert state["success"] is True, state
        assert state["captureErrorBehaviour"] == "rollback"
        assert state["errors"] == []
        count = len(doc["epcisBody"]["eventList"])
        assert (state["eventCount"], state["storedCount"]) == (count, count)
        # each event is now readable by its eventID (declared, else its Event Hash ID)
        for event in doc["epcisBody"]["eventList"]:
            subject = event.get("parentID") or (event.get("epcList") or [])[0]
            found, _ = _all_pages(client, token, f"MATCH_anyEPC={quote(subject, safe='')}")
            mine = [e for e in found if e["eventTime"] == event["eventTime"]]
            assert len(mine) == 1, (name, subject)
            event_id = mine[0]["eventID"]
            if "eventID" in event:
                assert event_id == event["eventID"]
            else:
                assert event_id.startswith("ni:///sha-256;")
            single = client.get(f"/epcis/events/{quote(event_id, safe='')}", headers=_auth(token))
            assert single.status_code == 200, single.text
            listed = single.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            assert [e["eventID"] for e in listed] == [event_id]
            assert schema_problems(single.json()) == []


def test_capture_again_stores_nothing_twice(client: TestClient, keys: dict[str, str]) -> None:
    doc = _example(CAPTURED[0])  # captured by the warehouse above
    state = _capture(client, keys["warehouse"], doc).json()
    assert state["success"] is True
    assert (state["storedCount"], state["duplicateCount"]) == (0, 2)


def test_recorded_party_is_the_caller_and_the_ledger_verifies(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    doc = _example("Example_9.6.4-TransformationEvent.jsonld")
    # the body claims to come from the seller, in an extension and in the header
    doc["@context"] = [*doc["@context"], {"xb": "https://xborder.dev/voc/"}]
    event = doc["epcisBody"]["eventList"][0]
    event["xb:capturedBy"] = SELLER
    doc["epcisHeader"] = {"xb:sender": SELLER}
    before = {r.id for r in _ledger_rows(api_platform)}
    answer = _capture(client, keys["broker"], doc)
    assert answer.status_code == 202, answer.text
    assert answer.json()["success"] is True
    new = [r for r in _ledger_rows(api_platform) if r.id not in before]
    assert len(new) == 1
    assert new[0].party_id == BROKER
    assert json.loads(new[0].document)["xb:capturedBy"] == SELLER  # stored as sent, not believed
    with api_platform.uow() as uow:
        batch = uow.connection.exec_driver_sql(
            "SELECT party_id, key_id FROM trace_batches WHERE id = ?", (new[0].batch_id,)
        ).one()
    assert batch.party_id == BROKER
    assert batch.key_id == api_platform.keys.load_or_create(BROKER).key_id
    report = verify(api_platform.uow(), Verify(deep=True))
    assert report.ok, report.first
    # the party the body named sees none of it
    hidden = client.get(
        f"/epcis/events/{quote(event['eventID'], safe='')}", headers=_auth(keys["seller"])
    )
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "epcisException:NoSuchResourceException"


def test_invalid_document_is_a_validation_exception(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    rows = len(_ledger_rows(api_platform))
    jobs = len(client.get("/epcis/capture?perPage=1000", headers=_auth(keys["carrier"])).json())
    bad = _example("Example_9.6.2-ObjectEvent.jsonld")
    bad["epcisBody"]["eventList"][0]["eventTime"] = "yesterday"
    for body in (bad, b"{not json", [1, 2]):
        answer = _capture(client, keys["carrier"], body)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["type"] == "epcisException:ValidationException"
        assert problem["status"] == 400
        assert problem["instance"] == "/epcis/capture"
    assert "eventList[0].eventTime" in _capture(client, keys["carrier"], bad).json()["detail"]
    assert len(_ledger_rows(api_platform)) == rows
    after = client.get("/epcis/capture?perPage=1000", headers=_auth(keys["carrier"])).json()
    assert len(after) == jobs  # no job for a document that was not received
    wrong_type = client.post(
        "/epcis/capture",
        content=b"<xml/>",
        headers={**_auth(keys["carrier"]), "Content-Type": "application/xml"},
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["type"] == "epcisException:UnsupportedMediaTypeException"


def test_a_failed_job_is_recorded_and_stores_nothing(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    rows = len(_ledger_rows(api_platform))
    # after the clock's now; schema-valid but past the calendar's last millisecond
    details = []
    for moment in ("2099-01-01T00:00:00Z", "9999-12-31T23:59:59.9999Z"):
        doc = _example("Example_9.6.2-ObjectEvent.jsonld")
        doc["epcisBody"]["eventList"][0]["eventTime"] = moment
        answer = _capture(client, keys["carrier"], doc)
        assert answer.status_code == 202
        state = client.get(answer.headers["location"], headers=_auth(keys["carrier"])).json()
        assert (state["running"], state["success"], state["storedCount"]) == (False, False, 0)
        assert state["errors"][0]["type"] == "epcisException:ValidationException"
        details.append(state["errors"][0]["detail"])
    assert "eventTime" in details[0] and "out of range" in details[1]
    assert len(_ledger_rows(api_platform)) == rows


def test_capture_limit_is_refused_with_413(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBORDER_EPCIS_CAPTURE_LIMIT", "1")
    answer = _capture(client, keys["carrier"], _example("Example_9.6.1-ObjectEvent.jsonld"))
    assert answer.status_code == 413
    assert answer.json()["type"] == "epcisException:CaptureLimitExceededException"
    assert answer.headers["GS1-EPCIS-Capture-Limit"] == "1"


def test_a_party_cannot_append_to_another_partys_object(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    # the carrier captures on objects the warehouse registered by its capture above
    rows = len(_ledger_rows(api_platform))
    doc = _example("Example_9.6.1-ObjectEvent.jsonld")
    doc["epcisBody"]["eventList"] = doc["epcisBody"]["eventList"][1:]
    doc["epcisBody"]["eventList"][0]["eventTime"] = "2020-01-01T00:00:00Z"
    answer = _capture(client, keys["carrier"], doc)
    assert answer.status_code == 202
    state = answer.json()
    assert state["success"] is False
    assert state["errors"][0]["type"] == "epcisException:SecurityException"
    assert len(_ledger_rows(api_platform)) == rows
    # and so it still sees nothing of them; the warehouse finds the three events naming the EPC:
    # both object events, and its own AggregationEvent, which lists the EPC as a child (MATCH_epc
    # matches childEPCs too) and which it now sees whole
    epc = quote("urn:epc:id:sgtin:0614141.107346.2018", safe="")
    assert _all_pages(client, keys["carrier"], f"MATCH_epc={epc}")[0] == []
    assert len(_all_pages(client, keys["warehouse"], f"MATCH_epc={epc}")[0]) == 3


# ---- reading -------------------------------------------------------------------------------------


def test_jobs_are_the_callers_own(client: TestClient, keys: dict[str, str]) -> None:
    mine = client.get("/epcis/capture", headers=_auth(keys["warehouse"]))
    assert mine.status_code == 200
    ids = [j["captureID"] for j in mine.json()]
    assert len(ids) >= len(CAPTURED)
    paged: list[str] = []
    url = "/epcis/capture?perPage=1"
    while url:
        answer = client.get(url, headers=_auth(keys["warehouse"]))
        paged.extend(j["captureID"] for j in answer.json())
        link = answer.headers.get("link")
        url = re.match(r"<([^>]+)>", link).group(1) if link else ""  # type: ignore[union-attr]
    assert paged == ids
    theirs = {
        j["captureID"] for j in client.get("/epcis/capture", headers=_auth(keys["carrier"])).json()
    }
    assert not theirs & set(ids)
    other = client.get(f"/epcis/capture/{ids[0]}", headers=_auth(keys["carrier"]))
    assert other.status_code == 404
    assert other.json()["type"] == "epcisException:NoSuchResourceException"
    everything = client.get("/epcis/capture?perPage=1000", headers=_auth(keys["operator"])).json()
    assert set(ids) | theirs <= {j["captureID"] for j in everything}


QUERIES = (
    {"EQ_bizStep": "departing"},
    {"EQ_disposition": "in_transit"},
    {"EQ_bizStep": "departing|arriving"},
    {"GE_eventTime": "2026-11-26T00:00:00Z", "LT_eventTime": "2026-11-29T00:00:00Z"},
)


@pytest.mark.parametrize("params", QUERIES, ids=lambda p: "&".join(p))
def test_query_filters_as_the_trace_query_does(
    client: TestClient, keys: dict[str, str], api_platform: Platform, params: dict[str, str]
) -> None:
    rest, pages = _all_pages(
        client,
        keys["carrier"],
        "&".join(f"{k}={quote(v)}" for k, v in params.items()) + "&perPage=25",
    )
    listed = {k: v.split("|") if k.startswith("EQ_") else v for k, v in params.items()}
    trace = query(api_platform.uow(), QueryEvents(listed, None, Viewer.party(CARRIER)))
    assert rest, "the scenario gives the carrier events of this kind"
    assert _without_record_time(rest) == trace
    assert pages == -(-len(trace) // 25)


def test_match_epc_and_event_type(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    everything, _ = _all_pages(client, keys["carrier"], "perPage=1000")
    bag = next(e["parentID"] for e in everything if e["type"] == "AggregationEvent")
    rest, _ = _all_pages(client, keys["carrier"], f"MATCH_epc={quote(bag, safe='')}")
    trace = query(
        api_platform.uow(), QueryEvents({"MATCH_epc": [bag]}, None, Viewer.party(CARRIER))
    )
    assert _without_record_time(rest) == [e for e in trace if bag in e.get("epcList", [])]
    parent, _ = _all_pages(client, keys["carrier"], f"MATCH_parentID={quote(bag, safe='')}")
    assert parent and all(e["parentID"] == bag for e in parent)
    any_epc, _ = _all_pages(client, keys["carrier"], f"MATCH_anyEPC={quote(bag, safe='')}")
    assert sorted(e["eventID"] for e in any_epc) == sorted(
        e["eventID"] for e in everything if e.get("parentID") == bag or bag in e.get("epcList", [])
    )
    aggregations, _ = _all_pages(client, keys["carrier"], "eventType=AggregationEvent")
    assert aggregations == [e for e in everything if e["type"] == "AggregationEvent"]
    observes, _ = _all_pages(client, keys["carrier"], "eventType=ObjectEvent&EQ_action=OBSERVE")
    assert observes == [
        e for e in everything if e["type"] == "ObjectEvent" and e["action"] == "OBSERVE"
    ]


def test_record_time_filter(client: TestClient, keys: dict[str, str]) -> None:
    everything, _ = _all_pages(client, keys["warehouse"], "perPage=1000")
    times = sorted({e["recordTime"] for e in everything})
    assert len(times) >= 2
    cut = times[len(times) // 2]
    later, _ = _all_pages(client, keys["warehouse"], f"GE_recordTime={quote(cut)}")
    earlier, _ = _all_pages(client, keys["warehouse"], f"LT_recordTime={quote(cut)}")
    assert later == [e for e in everything if e["recordTime"] >= cut]
    assert earlier == [e for e in everything if e["recordTime"] < cut]
    assert later and earlier


def test_pages_are_complete_and_stable(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    token = keys["carrier"]
    whole = client.get("/epcis/events?perPage=1000", headers=_auth(token)).json()
    every = whole["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(every) > 20
    assert schema_problems(whole) == []
    first = client.get("/epcis/events?perPage=7", headers=_auth(token))
    assert first.status_code == 200
    page_one = first.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert page_one == every[:7]
    # events appended between two pages come after the pages already read: nothing shifts
    doc = _example("Example_9.6.2-ObjectEvent.jsonld")
    assert _capture(client, token, doc).json()["success"] is True
    rest, _ = _all_pages(client, token, first.headers["link"].split("?", 1)[1].split(">")[0])
    ids = [e["eventID"] for e in page_one + rest]
    assert len(ids) == len(set(ids))
    assert ids[: len(every)] == [e["eventID"] for e in every]
    assert len(ids) == len(every) + 1  # the new one, once, at the end
    paged, pages = _all_pages(client, token, "perPage=7")
    assert [e["eventID"] for e in paged] == ids
    assert pages == -(-len(ids) // 7)


def test_operator_sees_every_party(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    everything, _ = _all_pages(client, keys["operator"], "perPage=1000")
    assert len(everything) == len(_ledger_rows(api_platform))
    carrier, _ = _all_pages(client, keys["carrier"], "perPage=1000")
    assert 0 < len(carrier) < len(everything)


def test_another_partys_event_is_not_found(
    client: TestClient, keys: dict[str, str], api_platform: Platform
) -> None:
    warehouse, _ = _all_pages(client, keys["warehouse"], "perPage=1000")
    carrier, _ = _all_pages(client, keys["carrier"], "perPage=1000")
    seen_by_carrier = {e["eventID"] for e in carrier}
    foreign = [e["eventID"] for e in warehouse if e["eventID"] not in seen_by_carrier]
    assert foreign
    for event_id in foreign[:5]:
        path = f"/epcis/events/{quote(event_id, safe='')}"
        assert client.get(path, headers=_auth(keys["warehouse"])).status_code == 200
        refused = client.get(path, headers=_auth(keys["carrier"]))
        assert refused.status_code == 404
        assert refused.json()["type"] == "epcisException:NoSuchResourceException"
    missing = client.get(
        "/epcis/events/urn:uuid:00000000-0000-0000-0000-000000000000",
        headers=_auth(keys["carrier"]),
    )
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("no event")


def test_bad_query_parameters(client: TestClient, keys: dict[str, str]) -> None:
    token = keys["carrier"]
    for query_string, name in (
        ("EQ_quantity=3", "EQ_quantity"),
        ("GE_eventTime=yesterday", "GE_eventTime"),
        ("eventType=NoSuchEvent", "eventType"),
        ("EQ_action=JUMP", "EQ_action"),
        ("nextPageToken=bm90LWEtdG9rZW4", "nextPageToken"),
        ("perPage=0", "perPage"),
        ("GE_eventTime=9999-12-31T23:59:59.9999Z", "GE_eventTime"),
    ):
        answer = client.get(f"/epcis/events?{query_string}", headers=_auth(token))
        assert answer.status_code == 400, (query_string, answer.text)
        assert answer.json()["type"] == "epcisException:QueryParameterException"
        assert name in answer.json()["detail"] or name in json.dumps(answer.json())
    # a token is bound to its query
    first = client.get("/epcis/events?perPage=2", headers=_auth(token))
    next_token = re.search(r"nextPageToken=([^&>]+)", first.headers["link"]).group(1)  # type: ignore[union-attr]
    reused = client.get(
        f"/epcis/events?perPage=2&EQ_bizStep=departing&nextPageToken={next_token}",
        headers=_auth(token),
    )
    assert reused.status_code == 400


def test_keys_and_scopes(client: TestClient, keys: dict[str, str]) -> None:
    doc = _example("Example_9.6.2-ObjectEvent.jsonld")
    for method, path in (
        ("GET", "/epcis/events"),
        ("GET", "/epcis/capture"),
        ("POST", "/epcis/capture"),
        ("GET", "/epcis/events/x"),
    ):
        answer = client.request(method, path, json=doc if method == "POST" else None)
        assert answer.status_code == 401, path
        assert answer.json()["type"] == "epcisException:SecurityException"
        assert client.request(method, path, headers=_auth("xbk_nope")).status_code == 401
    for token in ("seller", "carrier_read_only"):  # no trace:write
        refused = _capture(client, keys[token], doc)
        assert refused.status_code == 403
        assert refused.json()["type"] == "epcisException:SecurityException"
    no_trace = _auth(keys["carrier_no_trace"])
    assert client.get("/epcis/events", headers=no_trace).status_code == 403
    assert client.get("/epcis/capture", headers=no_trace).status_code == 403
    assert client.get("/epcis/events", headers=_auth(keys["carrier_read_only"])).status_code == 200


def test_problem_types_are_the_bindings_exceptions(bindings: dict[str, Any]) -> None:
    text = BINDINGS.read_text("utf-8")
    defined = set(re.findall(r"epcisException:(\w+)", text))
    source = Path(__file__).resolve().parents[2] / "src" / "xborder" / "api" / "epcis.py"
    services = source.parents[1] / "services" / "capture_jobs.py"
    used = set(re.findall(r'"(\w+Exception)"', source.read_text() + services.read_text()))
    assert used and used <= defined, used - defined


def test_capture_and_pages_on_postgresql(
    postgres_api_platform: Platform, postgres_make_key: MakeKey
) -> None:
    """Savepoints, the driver's COPY and the keyset pages on the other store."""
    platform = postgres_api_platform
    warehouse = postgres_make_key(WAREHOUSE, ApiRole.WAREHOUSE)[0]
    carrier = postgres_make_key(CARRIER, ApiRole.CARRIER)[0]
    with TestClient(_app(platform), raise_server_exceptions=False) as client:
        doc = _example("Example-TransactionEvents-2020_07_03y.jsonld")
        state = _capture(client, warehouse, doc).json()
        assert (state["success"], state["storedCount"]) == (True, 2)
        late = _example("Example_9.6.2-ObjectEvent.jsonld")
        late["epcisBody"]["eventList"][0]["eventTime"] = "2099-01-01T00:00:00Z"
        rows = len(_ledger_rows(platform))
        assert _capture(client, warehouse, late).json()["success"] is False
        assert _capture(client, carrier, doc).json()["errors"][0]["type"] == (
            "epcisException:SecurityException"
        )
        assert len(_ledger_rows(platform)) == rows
        mine, _ = _all_pages(client, warehouse, "eventType=TransactionEvent")
        hashed = [e for e in mine if e["eventID"].startswith("ni:///")]
        assert len(hashed) >= 2
        one = client.get(
            f"/epcis/events/{quote(hashed[-1]['eventID'], safe='')}", headers=_auth(warehouse)
        )
        assert one.status_code == 200
        assert (
            client.get(
                f"/epcis/events/{quote(hashed[-1]['eventID'], safe='')}", headers=_auth(carrier)
            ).status_code
            == 404
        )
        whole, _ = _all_pages(client, carrier, "perPage=1000")
        paged, pages = _all_pages(client, carrier, "perPage=9")
        assert paged == whole and pages == -(-len(whole) // 9) and len(whole) > 9
    report = verify(platform.uow(), Verify(deep=True))
    assert report.ok, report.first
