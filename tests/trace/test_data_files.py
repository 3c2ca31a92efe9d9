"""The shipped EPCIS artefacts are the documented, unmodified copies.

The SHA-256 digests below are those of the upstream GS1 files (see the provenance table in
``src/xborder/data/epcis/README.md``). Matching them proves the shipped bytes are the upstream
bytes, so no second copy of the files is kept under tests/data.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import pytest

DIGESTS = {
    "epcis-json-schema.json": "0f46ff694efffd8d8ce840a33dfde84228add11b516b8b258f3200740ae210af",
    "epcis-context.jsonld": "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008",
    "query-schema.json": "f99455d3508c856a394f87756f6081b34c5115432e979329d63ce9e6a283919d",
}


def _shipped(name: str) -> bytes:
    return resources.files("xborder").joinpath("data", "epcis", name).read_bytes()


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_shipped_copy_matches_the_upstream_digest(name: str) -> None:
    assert hashlib.sha256(_shipped(name)).hexdigest() == DIGESTS[name]


def test_digests_are_the_ones_the_shipped_readme_documents() -> None:
    """A digest changed here without the provenance table (or the reverse) is caught."""
    readme = _shipped("README.md").decode("utf-8")
    documented = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.MULTILINE)
    }
    assert documented == DIGESTS
