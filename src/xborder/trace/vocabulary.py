"""CBV bare-word vocabularies read from the EPCIS 2.0 JSON-LD context shipped in the package.

A JSON-LD processor would expand ``"bizStep": "shipping"`` to
``https://ref.gs1.org/cbv/BizStep-shipping`` via the term definitions of the context; we read the
same term definitions once instead of running a JSON-LD processor for every event.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://ref.gs1.org/voc/"  # the reference hash generator always maps gs1: here

# Vocabulary-typed fields: (path in the context) -> the field names they apply to.
_FIELDS: dict[str, tuple[str, ...]] = {
    "bizStep": ("bizStep",),
    "disposition": ("disposition",),
    "persistentDisposition": ("persistentDisposition",),
    "bizTransactionList": ("bizTransactionList", "type"),
    "sourceList": ("sourceList", "type"),
    "destinationList": ("destinationList", "type"),
    "sensorReport.type": ("sensorElementList", "sensorReport", "type"),
    "sensorReport.exception": ("sensorElementList", "sensorReport", "exception"),
    "sensorReport.component": ("sensorElementList", "sensorReport", "component"),
    "errorDeclaration": ("errorDeclaration", "reason"),
}


def context_document() -> dict[str, Any]:
    """The EPCIS 2.0.0 JSON-LD context (a verbatim copy, see ``xborder/data/epcis/README.md``)."""
    path = resources.files("xborder").joinpath("data", "epcis", "epcis-context.jsonld")
    text = path.read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _expand(curie: str) -> str:
    if curie.startswith("cbv:"):
        return CBV + curie[4:]
    if curie.startswith("gs1:"):
        return GS1_VOC + curie[4:]
    return curie


def _terms(node: Any) -> dict[str, str]:
    """Bare-word term definitions (``"shipping": "cbv:BizStep-shipping"``) under a context node."""
    found: dict[str, str] = {}
    contexts = node if isinstance(node, list) else [node]
    for ctx in contexts:
        if isinstance(ctx, dict):
            for key, val in ctx.items():
                if isinstance(val, str) and (val.startswith("cbv:") or val.startswith("gs1:")):
                    found[key] = _expand(val)
    return found


@cache
def vocabularies() -> dict[str, dict[str, str]]:
    """For each vocabulary-typed field, bare word -> full URI."""
    ctx = context_document()["@context"]
    out: dict[str, dict[str, str]] = {}
    out["bizStep"] = _terms(ctx["bizStep"]["@context"])
    out["disposition"] = _terms(ctx["disposition"]["@context"])
    out["persistentDisposition"] = _terms(ctx["persistentDisposition"]["@context"])
    for name in ("bizTransactionList", "sourceList", "destinationList"):
        out[name] = _terms(ctx[name]["@context"]["type"]["@context"])
    report = ctx["sensorElementList"]["@context"]["sensorReport"]["@context"]
    for field in ("type", "exception", "component"):
        node = report.get(field)
        out[f"sensorReport.{field}"] = (
            _terms(node["@context"]) if isinstance(node, dict) and "@context" in node else {}
        )
    out["errorDeclaration"] = _terms(ctx["errorDeclaration"]["@context"]["reason"]["@context"])
    return out


def expand(field: str, value: str) -> str:
    """Expand a bare CBV word of ``field`` (a key of ``vocabularies()``) to its URI."""
    return vocabularies()[field].get(value, value)


def bare(field: str, uri: str) -> str:
    """The bare word for a CBV URI of ``field`` if there is one (for compact JSON-LD output)."""
    for word, full in vocabularies()[field].items():
        if full == uri:
            return word
    return uri
