import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from xborder.domain.errors import InvalidValue
from xborder.domain.network import LaneMode
from xborder.domain.world import World


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    text = resources.files("xborder").joinpath("data", "worlds", "demo.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_demo_world_is_complete(demo_world: World) -> None:
    assert 95 <= len(demo_world.products) <= 130
    assert {lane.mode for lane in demo_world.lanes} == set(LaneMode)
    markets = {d.country for d in demo_world.demand}
    assert {"DE", "FR", "ES", "GB", "US", "JP", "CN"} <= markets
    assert {w.kind.value for w in demo_world.warehouses} >= {"domestic", "bonded", "overseas"}
    origins = {p.origin for p in demo_world.products}
    assert {"CN", "US", "DE", "JP", "KR", "AU"} <= origins
    for market in demo_world.demand:
        assert any(m.country == market.country for m in demo_world.last_mile), market.country


def test_every_product_is_stocked_somewhere(demo_world: World) -> None:
    stocked = {i.sku for i in demo_world.inventory if i.on_hand > 0}
    assert {p.sku for p in demo_world.products} <= stocked


def test_errors_name_the_entry_and_field(raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["products"][3]["hs_code"] = "999999"
    with pytest.raises(InvalidValue) as info:
        World.parse(broken)
    assert info.value.field == "products[3].hs_code"


def test_dangling_references_and_bad_shares_are_refused(raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["lanes"][0]["carrier"] = "nobody"
    with pytest.raises(InvalidValue, match="unknown party 'nobody'"):
        World.parse(broken)
    broken = copy.deepcopy(raw)
    broken["demand"][0]["share"] = broken["demand"][0]["share"] / 2
    with pytest.raises(InvalidValue, match="shares must sum to 1"):
        World.parse(broken)
