"""Instance validation: every bad input names its field and reason."""

from __future__ import annotations

from typing import Any

import pytest

from xborder.domain.errors import InvalidValue
from xborder.planning.network import Instance, solve


def _raw(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "sites": [{"id": "a", "fixed_cost": 10, "capacity": 5},
                  {"id": "b", "fixed_cost": 4, "capacity": 5}],
        "regions": [{"id": "r1", "demand": 3}, {"id": "r2", "demand": 4}],
        "assign_cost": [[1, 2], [3, 4]],
    }  # fmt: skip
    raw.update(over)
    return raw


def test_from_json_round_trip() -> None:
    inst = Instance.from_json(_raw(single_source=True, assign_cost=[[1, 2], [3, 5]]))
    assert inst.site_ids == ("a", "b") and inst.region_ids == ("r1", "r2")
    assert inst.single_source
    plan = solve(inst)
    # SS: 3 + 4 = 7 > 5, so both sites open (fixed 14); r2->a (2) + r1->b (3) beats 1 + 5.
    assert plan.cost == pytest.approx(19.0)
    assert {(f["site"], f["region"]) for f in plan.flows()} == {("a", "r2"), ("b", "r1")}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (_raw(sites=[{"id": "a", "fixed_cost": 1, "capacity": -5},
                     {"id": "b", "fixed_cost": 1, "capacity": 9}]), "capacity"),
        (_raw(assign_cost=[[1, 2, 3], [3, 4, 5]]), "assign_cost"),
        (_raw(assign_cost=[[1, 2]]), "assign_cost"),
        (_raw(regions=[{"id": "r1", "demand": 30}, {"id": "r2", "demand": 4}]), "capacity"),
        (_raw(regions=[{"id": "r1"}]), "regions[0].demand"),
        (_raw(sites="nope"), "sites"),
        (_raw(single_source="yes"), "single_source"),
        (_raw(regions=[{"id": "r1", "demand": "3"}, {"id": "r2", "demand": 4}]),
         "regions[0].demand"),
        (_raw(assign_cost=[[1, "x"], [3, 4]]), "assign_cost"),
        (_raw(assign_cost=[[1, -2], [3, 4]]), "assign_cost"),
        (_raw(sites=[{"id": "a", "fixed_cost": 1, "capacity": 5},
                     {"id": "a", "fixed_cost": 1, "capacity": 5}]), "sites.id"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as err:
        Instance.from_json(raw)
    assert err.value.field == field


def test_single_source_region_larger_than_every_site() -> None:
    raw = _raw(regions=[{"id": "r1", "demand": 6}, {"id": "r2", "demand": 1}], single_source=True)
    with pytest.raises(InvalidValue, match="single-source"):
        Instance.from_json(raw)
    assert solve(Instance.from_json({**raw, "single_source": False})).cost > 0


def test_bad_method_and_time_limit() -> None:
    inst = Instance.from_json(_raw())
    with pytest.raises(InvalidValue, match="method"):
        solve(inst, method="magic")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="time_limit"):
        solve(inst, time_limit=0)
