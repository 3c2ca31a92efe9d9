"""EPCIS 2.0 document validation: the official JSON Schema with format checking, plus model rules.

Format checking must be on: without it the schema accepts unknown top-level fields, an
``eventTime`` of ``"yesterday"`` and non-URI EPCs (see ``xborder/data/epcis/README.md``).
The schema does not require ``parentID`` on an AggregationEvent ADD/DELETE although the EPCIS
event model does (EPCIS 2.0 section 7.4.3), so that rule is checked here in code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import best_match

from xborder.domain.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One reason a document is invalid: where (a JSON path) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _load(name: str) -> dict[str, Any]:
    text = resources.files("xborder").joinpath("data", "epcis", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def validator() -> Draft7Validator:
    """The EPCIS 2.0.1 schema validator (sha256 0f46ff69..., see data/epcis/README.md)."""
    return Draft7Validator(_load("epcis-json-schema.json"), format_checker=FormatChecker())


@cache
def query_validator() -> Draft7Validator:
    """The EPCIS 2.0 query-parameter schema (sha256 f99455d3..., see data/epcis/README.md)."""
    return Draft7Validator(_load("query-schema.json"), format_checker=FormatChecker())


def validate_query(params: dict[str, Any]) -> None:
    """Raise ``InvalidValue`` naming the first parameter the EPCIS query schema rejects."""
    for error in query_validator().iter_errors(params):
        leaf = (best_match(error.context) if error.context else error) or error
        name = str(leaf.absolute_path[0]) if leaf.absolute_path else "query"
        raise InvalidValue(name, leaf.message)


def _path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _model_problems(document: dict[str, Any]) -> list[SchemaProblem]:
    problems: list[SchemaProblem] = []
    body = document.get("epcisBody", {})
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        return problems
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        if (
            event.get("type") == "AggregationEvent"
            and event.get("action") in ("ADD", "DELETE")
            and not event.get("parentID")
        ):
            problems.append(
                SchemaProblem(
                    f"$.epcisBody.eventList[{i}].parentID",
                    "required on an AggregationEvent with action ADD or DELETE (EPCIS 2.0 7.4.3)",
                )
            )
    return problems


def problems(document: Any) -> list[SchemaProblem]:
    """Every schema and model problem of a document, most specific first; empty when valid."""
    if not isinstance(document, dict):
        return [SchemaProblem("$", "an EPCIS document must be a JSON object")]
    found = []
    for error in validator().iter_errors(document):
        # descend into anyOf/oneOf to name the leaf that actually failed
        leaf = best_match(error.context) if error.context else error
        leaf = leaf or error
        problem = SchemaProblem(_path(leaf.absolute_path), leaf.message)
        if problem not in found:
            found.append(problem)
    found.sort(key=lambda p: (-p.path.count("."), p.path))
    return found + _model_problems(document)


def validate(document: Any) -> None:
    """Raise ``InvalidValue`` naming the first problem's path and reason."""
    found = problems(document)
    if found:
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InvalidValue(first.path, first.reason + more)
