from decimal import Decimal

import pytest

from xborder.domain.errors import InvalidValue
from xborder.domain.network import InventoryPosition
from xborder.domain.values import Dimensions, Location, check_country, check_hs_code


def test_country_codes_are_iso_alpha2_normalised() -> None:
    assert check_country(" de ") == "DE"
    for bad in ("XX", "DEU", "", 49, None):
        with pytest.raises(InvalidValue) as info:
            check_country(bad, "consignee_country")
        assert info.value.field == "consignee_country"


@pytest.mark.parametrize("code", ["851713", "61091000", "6109100010", "8517.13"])
def test_hs_codes_with_a_valid_hs2022_prefix(code: str) -> None:
    assert check_hs_code(code) == code.replace(".", "")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("85171", "6, 8 or 10 digits"),
        ("8517130", "6, 8 or 10 digits"),
        ("999999", "HS 2022"),
        ("851712", "HS 2022"),
    ],  # 851712 (mobile phones) was replaced by 851713/851714 in HS 2022
)
def test_bad_hs_codes_say_why(code: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        check_hs_code(code)
    assert reason in info.value.reason


def test_hs_code_must_be_text_not_a_number() -> None:
    with pytest.raises(InvalidValue):
        check_hs_code(10121)  # leading zero of 010121 lost


def test_volumetric_weight() -> None:
    dims = Dimensions(Decimal(50), Decimal(40), Decimal(30))
    assert dims.volumetric_weight(5000).kg == Decimal(12)
    assert dims.volumetric_weight(0).kg == 0


def test_location_needs_a_locode_or_both_coordinates() -> None:
    assert Location(locode="cn szx").locode == "CNSZX"
    with pytest.raises(InvalidValue):
        Location()
    with pytest.raises(InvalidValue):
        Location(lat=10.0)
    with pytest.raises(InvalidValue):
        Location(locode="XXABC")


def test_inventory_reserve_and_release_keep_reserved_within_on_hand() -> None:
    pos = InventoryPosition(warehouse="w", sku="s", on_hand=5)
    pos = pos.reserve(3)
    assert pos.available == 2
    with pytest.raises(InvalidValue):
        pos.reserve(3)
    assert pos.release(3).reserved == 0
