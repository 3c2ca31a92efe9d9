"""Schemathesis over the whole OpenAPI of ``create_app``: generated requests (valid and not) to
every operation, as the operator; no response may be a 5xx, and every response must match the
schema its operation documents (status code, content type, body).

The store is the API scenario's (``api_platform``), so generated ids often hit real objects.
Examples per operation are capped (``MAX_EXAMPLES``) to keep the run under a minute.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import PARTIES, MakeKey
from xborder.api.app import create_app
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.services.access import ApiRole

MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """A generated NDJSON body: text as it is, anything else one JSON line per item."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()


@pytest.fixture(scope="module")
def operator_token(make_key: MakeKey) -> str:
    return make_key(PARTIES[ApiRole.OPERATOR], ApiRole.OPERATOR)[0]


class _NoStoreYet:
    """The platform until the fixture below hands in the scenario's (the schema is read at
    collection time, before any fixture runs; reading it needs no store)."""

    def close(self) -> None:
        return None


APP = create_app(_NoStoreYet(), settings=ApiSettings(rate_limit_per_minute=0))  # type: ignore[arg-type]
# simulation runs start real studies: exercised in test_api, not fuzzed here
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(
    path="/simulations", method="POST"
)


@pytest.fixture(scope="module", autouse=True)
def _on_the_scenario_store(
    api_platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> None:
    APP.state.platform = api_platform
    APP.state.settings = ApiSettings(
        rate_limit_per_minute=0, data_dir=tmp_path_factory.mktemp("schemathesis")
    )


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_api_conforms(case: Any, operator_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {operator_token}"}, checks=CHECKS)
