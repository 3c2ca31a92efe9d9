"""The shipped EPCIS artefacts are the documented, unmodified copies."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from tests.trace.test_event_hash_vectors import SHARED

DIGESTS = {
    "epcis-json-schema.json": "0f46ff694efffd8d8ce840a33dfde84228add11b516b8b258f3200740ae210af",
    "epcis-context.jsonld": "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008",
    "query-schema.json": "f99455d3508c856a394f87756f6081b34c5115432e979329d63ce9e6a283919d",
}


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_shipped_copy_matches_documented_digest_and_shared_file(name: str) -> None:
    data = resources.files("xborder").joinpath("data", "epcis", name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == DIGESTS[name]
    assert data == (SHARED / name).read_bytes()
