"""GACC code lists a CEB message needs where the platform stores ISO codes or its own terms.

CEB messages carry China customs' own parameter codes (JGS-20 "customs business code set"), not
ISO ones: a country is ``502``, not ``US``; a unit of measure ``035``, not ``kg``; a transport
mode ``5``, not ``air``. These are reference tables, like the currency table, keyed by facts the
store holds; a key missing here leaves the CEB field empty, so the message is refused naming the
field rather than written with a guess. Only the entries the platform's China import flows use
are listed; docs/customs.md says which are confirmed.
"""

from __future__ import annotations

from types import MappingProxyType

# JGS-20 country (region) codes, by ISO 3166-1 alpha-2.
GACC_COUNTRIES = MappingProxyType({
    "AU": "601", "CA": "501", "CN": "142", "DE": "304", "FR": "305", "GB": "303", "HK": "110",
    "IT": "307", "JP": "116", "KR": "133", "NL": "309", "NZ": "609", "US": "502",
})  # fmt: skip

# JGS-20 units of measure.
UNIT_PIECE = "011"  # 件: the unit an order line's quantity counts (pieces sold)
UNIT_KG = "035"  # 千克

# Legal first unit (法定第一计量单位) of the HS chapters the platform imports into China, as
# (GACC unit, basis): ``net_kg`` means the legal quantity is the goods' net weight in kg.
# 04 dairy and honey, 09 tea, 19 infant formula, 20 prepared vegetables, 21 food preparations,
# 22 beverages, 33 cosmetics and shampoo, 96 (9619) diapers.
LEGAL_UNITS = MappingProxyType({
    chapter: (UNIT_KG, "net_kg") for chapter in ("04", "09", "19", "20", "21", "22", "33", "96")
})  # fmt: skip

# JGS-20 transport modes (运输方式) by the platform's lane mode.
# Express and dedicated lines are not listed: their mode of carriage is not a stored fact.
TRANSPORT_MODES = MappingProxyType({"sea": "2", "rail": "3", "air": "5", "postal": "6"})
# A bonded import (1210) declares how the parcel leaves the zone (二线出区): the platform's
# domestic carriers collect from the bonded warehouses by road (公路运输).
BONDED_EXIT_MODE = "4"

# Customs supervision modes (监管方式) of CBEC retail import: bonded stock, and direct mail.
BONDED_IMPORT = "1210"
DIRECT_IMPORT = "9610"


def gacc_country(iso: str | None) -> str | None:
    """The GACC code of an ISO country; None when the table lacks it."""
    return GACC_COUNTRIES.get(str(iso).upper()) if iso else None


def legal_unit(hs_code: str | None) -> tuple[str, str] | None:
    """(GACC unit, basis) of an HS code's legal first unit; None when the table lacks it."""
    return LEGAL_UNITS.get(str(hs_code)[:2]) if hs_code else None
