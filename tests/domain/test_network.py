from decimal import Decimal

import pytest
from pydantic import ValidationError

from xborder.domain.network import Lane
from xborder.domain.shipping import Consolidation, Parcel
from xborder.domain.values import Dimensions
from xborder.domain.world import World


def lane(**kw: object) -> Lane:
    base = {
        "id": "ln", "name": "SZX-US express", "mode": "express", "carrier": "c",
        "origin_hub": "h", "dest_country": "US", "per_kg": Decimal("40"),
        "per_parcel": Decimal("15"), "minimum": Decimal("60"), "currency": "CNY",
        "volumetric_divisor": 5000, "transit_mean_days": 4.0, "transit_p95_days": 7.0,
        "daily_capacity_kg": 1000, "departure_days": ("Fri", "Mon"), "cutoff": "17:00",
        "loss_rate": 0.001, "damage_rate": 0.002,
    }  # fmt: skip
    base.update(kw)
    return Lane(**base)  # type: ignore[arg-type]


def test_freight_bills_the_greater_of_actual_and_volumetric_weight_above_the_minimum() -> None:
    small = lane().freight(Decimal("0.5"))
    assert small.amount == Decimal("60.00")  # 40*0.5 + 15 = 35 < minimum 60
    bulky = lane().freight(Decimal("2"), Dimensions(Decimal(50), Decimal(40), Decimal(30)))
    assert bulky.amount == Decimal("495.00")  # 12 kg volumetric * 40 + 15
    assert lane(volumetric_divisor=0).freight(Decimal("2"), Dimensions(
        Decimal(50), Decimal(40), Decimal(30))).amount == Decimal("95.00")  # fmt: skip


def test_lane_validation_names_the_problem() -> None:
    assert lane().departure_days == ("Mon", "Fri")
    with pytest.raises(ValidationError, match="unknown weekday"):
        lane(departure_days=("Monday",))
    with pytest.raises(ValidationError, match="HH:MM"):
        lane(cutoff="5pm")
    with pytest.raises(ValidationError, match="p95"):
        lane(transit_p95_days=3.0)
    with pytest.raises(ValidationError):
        lane(per_kg=Decimal("-1"))


def parcel(i: int, kg: str) -> Parcel:
    return Parcel(id=f"p{i}", order_id=i, sscc=f"{i:018d}", tracking_no=f"XB{i:08d}",
                  gross_kg=Decimal(kg), volume_cm3=Decimal(1000))  # fmt: skip


def test_consolidation_limits_and_fill_rate() -> None:
    bag = Consolidation(id="b", kind="bag", lane="ln", master_waybill="MAWB1",
                        sscc="0" * 18, max_kg=Decimal(30), max_cm3=Decimal(100_000),
                        parcels=(parcel(1, "10"), parcel(2, "5")))  # fmt: skip
    assert bag.fill_rate == pytest.approx(0.5)
    with pytest.raises(ValidationError, match="exceeds"):
        bag.model_copy(update={"parcels": (parcel(1, "31"),)}).model_validate(
            bag.model_copy(update={"parcels": (parcel(1, "31"),)}).model_dump()
        )


def test_demo_world_lanes_price_a_parcel(demo_world: World) -> None:
    for ln in demo_world.lanes:
        price = ln.freight(Decimal("1.0"))
        assert price.currency == ln.currency and price.amount >= ln.minimum
