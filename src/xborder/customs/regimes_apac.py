"""Dated rules of Japan, Korea, Canada and Australia, each citing its source and validity.

Facts checked on 2026-12-02 against the sources named in each rule. Where a source is a trade or
secondary source rather than the authority's own text, the summary says "secondary source".
``valid_from`` is the first date the fact is confirmed for, not necessarily the date the law
took effect: a quote dated before it is refused (no rule in force) rather than guessed. Consumption
tax / VAT / GST rates are data (``data/tariffs/vat_rates.csv`` and ``vat_reduced.csv``), not rules.

What is not modelled (the kernel refuses or says so): excise goods (liquor and tobacco taxes) in
all four; Japan's simplified duty rates for consignments up to JPY 200,000 (the heading rates of
``jp.csv`` are used) and its truncation of the tax base to JPY 1,000 and of the tax to JPY 100;
Korea's aggregation of same-day purchases; Canadian provincial sales tax (PST/RST/QST).
"""

from __future__ import annotations

from datetime import date

from xborder.customs.regimes_base import Rule, params

# Canada: provinces where the CBSA collects the HST (federal 5 % + provincial part) on imports;
# provinces and territories with no provincial sales tax, where GST 5 % is the whole tax; and
# provinces with a separate PST/RST/QST (not modelled: the quote says it is GST only).
CA_HST_PROVINCES = frozenset({"NB", "NL", "NS", "ON", "PE"})
CA_NO_PST = frozenset({"AB", "NT", "NU", "YT"})
CA_PST_PROVINCES = frozenset({"BC", "MB", "QC", "SK"})
CA_PROVINCES = CA_HST_PROVINCES | CA_NO_PST | CA_PST_PROVINCES
CUSMA_ORIGINS = frozenset({"MX", "US"})
# Regimes whose low-value limit is set in another currency than their tax currency: the quote
# needs ``limit_fx`` (1 unit of it in the tax currency on the date), e.g. from the FX table.
LIMIT_CURRENCY = {"KR": "USD"}

# Japan: goods the JPY 10,000 exemption does not cover even under the threshold (secondary
# source: importsquare.com "Duty and tax", list "Products that are taxable even if the taxable
# price is 10,000 yen or less"; Japan Customs Answer 1006 confirms that such designated articles
# exist but its text names none). HS prefixes: milk and cream (0401, 0402), grains (1001, 1006,
# 1101, 1102), meat preparations (1601, 1602), refined salt (2501), tobacco (24), leather bags
# (4202 with outer surface of leather), knitted clothing (61), footwear (64).
JP_EXEMPTION_EXCLUDED = (
    "0401",
    "0402",
    "1001",
    "1006",
    "1101",
    "1102",
    "1601",
    "1602",
    "2501",
    "24",
    "420211",
    "420221",
    "420231",
    "420291",
    "61",
    "64",
)
# Korea: goods cleared by general (not list) clearance, for which the USD 200 limit for goods
# from the US does not apply (USD 150 does): food, medicines, cosmetics and similar. Secondary
# sources (boxoregon.com "Korea's customs regulations have been changed"; a forwarder's clearance
# guide): HS chapters 01-31, 33, 41, 43-47, 77, 93.
KR_GENERAL_CLEARANCE_CHAPTERS = frozenset(
    [f"{c:02d}" for c in range(1, 32)] + ["33", "41", "43", "44", "45", "46", "47", "77", "93"]
)
# Liquor and tobacco: excise regimes (liquor tax, tobacco tax, alcohol markups, WET) are not
# modelled in any of the four, and their low-value reliefs exclude them: such lines are refused.
APAC_EXCISE_PREFIXES = ("2203", "2204", "2205", "2206", "2207", "2208", "24")

APAC_RULES: tuple[Rule, ...] = (
    # --- Japan ---------------------------------------------------------------------------------
    Rule(
        "JP.SMALL10000",
        "JP",
        "low_value",
        date(2016, 1, 1),
        None,
        "Total customs value <= JPY 10,000 per declaration (per package for parcel post): "
        "customs duty and consumption tax exempt, except designated goods (list from a "
        "secondary source: milk, grains, meat preparations, salt, tobacco, leather bags, knitted "
        "clothing, footwear)",
        "Customs Tariff Law art. 14 item 18; Japan Customs Answer 1006 "
        "(customs.go.jp/english/c-answer_e/imtsukan/1006_e.htm); exclusions: importsquare.com "
        "(secondary source)",
        params(threshold_minor=10_000),
    ),
    Rule(
        "JP.VALUE",
        "JP",
        "valuation",
        date(2016, 1, 1),
        None,
        "Customs value: CIF (price plus transport and insurance to the port of importation); "
        "goods imported for private use are valued at the wholesale level, in practice 60 % of "
        "the overseas retail price (ratio from secondary sources), transport and insurance added",
        "Customs Tariff Law art. 4(1), 4-6; Japan Customs Answer 1405 (3) "
        "(customs.go.jp/english/c-answer_e/imtsukan/1405_e.htm); 60 %: importsquare.com, "
        "avenuetokyo.co.jp (secondary sources)",
        params(goods_share_num=3, goods_share_den=5),
    ),
    Rule(
        "JP.CT",
        "JP",
        "tax",
        date(2014, 4, 1),
        None,
        "Import consumption tax on customs value + duty: 10 % (7.8 % national + 2.2 % local) "
        "from 2019-10-01, reduced 8 % for food and non-alcoholic drinks; 8 % before",
        "Consumption Tax Act art. 28(4), 29; Japan Customs Answer 1111 "
        "(customs.go.jp/english/c-answer_e/imtsukan/1111_e.htm)",
    ),
    # --- Korea ---------------------------------------------------------------------------------
    Rule(
        "KR.LIST150",
        "KR",
        "low_value",
        date(2026, 1, 1),
        None,
        "Goods for personal use, goods price (excluding international shipping) <= USD 150: "
        "customs duty and VAT exempt (list clearance); validity before 2026 not confirmed",
        "Customs Act art. 94(4) and Enforcement Rule art. 45 (small-amount exemption); "
        "krutils.com 'Korea Customs Duty + VAT Guide 2026' (secondary source, 2026-05)",
        params(limit_minor=15_000, limit_currency="USD"),
    ),
    Rule(
        "KR.KORUS200",
        "KR",
        "low_value_us",
        date(2026, 1, 1),
        None,
        "Goods shipped from the United States by list clearance: limit USD 200 instead of "
        "USD 150 (not for goods under general clearance: food, medicines, cosmetics...)",
        "KORUS FTA; krutils.com 'Korea Customs Duty + VAT Guide 2026', boxoregon.com "
        "(secondary sources)",
        params(limit_minor=20_000, limit_currency="USD", origins=frozenset({"US"})),
    ),
    Rule(
        "KR.VALUE",
        "KR",
        "valuation",
        date(2016, 1, 1),
        None,
        "Customs value: CIF (transaction value plus freight and insurance to the port of "
        "import); VAT 10 % on customs value + duty",
        "Customs Act art. 30; Value-Added Tax Act art. 29(2); krutils.com (secondary source)",
    ),
    # --- Canada --------------------------------------------------------------------------------
    Rule(
        "CA.LVS20",
        "CA",
        "low_value",
        date(2016, 1, 1),
        None,
        "Value for duty <= CAD 20 by post or courier from any country: duties and taxes remitted",
        "Postal Imports Remission Order; Courier Imports Remission Order; CBSA Customs Notice "
        "20-18 (cbsa-asfc.gc.ca/publications/cn-ad/cn20-18-eng.html)",
        params(threshold_minor=2_000),
    ),
    Rule(
        "CA.CUSMA",
        "CA",
        "low_value_cusma",
        date(2020, 7, 1),
        None,
        "Courier shipments from the US or Mexico (place of direct shipment, not origin of the "
        "goods): value for duty <= CAD 40 duty and tax free; <= CAD 150 duty free, taxes apply. "
        "Mail from the US or Mexico keeps CAD 20",
        "CUSMA; Courier Imports Remission Order as amended; CBSA Customs Notice 20-18; CBSA "
        "'Increase to low-value shipment thresholds' (cbsa-asfc.gc.ca/services/cusma-aceum/"
        "lvs-efv-eng.html)",
        params(tax_minor=4_000, duty_minor=15_000, origins=CUSMA_ORIGINS),
    ),
    Rule(
        "CA.VALUE",
        "CA",
        "valuation",
        date(2016, 1, 1),
        None,
        "Value for duty: transaction value excluding transport and insurance from the place of "
        "direct shipment to Canada (FOB)",
        "Customs Act (Canada) s.48(5)(b)",
    ),
    Rule(
        "CA.TAX",
        "CA",
        "tax",
        date(2016, 1, 1),
        None,
        "GST 5 % on value for duty + duty; in a participating province (ON 13 %, NB/NL/PE 15 %, "
        "NS 15 % -> 14 % from 2025-04-01) the CBSA collects the HST instead. Without the "
        "consignee's province, or in BC/MB/SK/QC, the quote is GST only: PST/RST/QST not included",
        "Excise Tax Act Part IX, Div. III; CBSA Memorandum D17-1-22 (HST/PST on casual "
        "importations in the courier stream); Nova Scotia HST reduction (2025-04-01)",
    ),
    # --- Australia -----------------------------------------------------------------------------
    Rule(
        "AU.LVT1000",
        "AU",
        "low_value",
        date(2016, 1, 1),
        None,
        "Consignments of customs value <= AUD 1,000 (not tobacco or alcohol): no duty and no GST "
        "collected at the border",
        "Customs Act 1901; Home Affairs 'GST on low value imported goods' (2018: 'no changes to "
        "the AUD1000 threshold for reporting and collection of duties and taxes at the border')",
        params(threshold_minor=100_000),
    ),
    Rule(
        "AU.LVG",
        "AU",
        "vendor_gst",
        date(2018, 7, 1),
        None,
        "Low value goods (customs value <= AUD 1,000) sold to consumers: GST 10 % charged at the "
        "point of sale by the vendor, electronic distribution platform or redeliverer",
        "A New Tax System (Goods and Services Tax) Act 1999 Div. 84 (Treasury Laws Amendment "
        "(GST Low Value Goods) Act 2017); Home Affairs and ATO guidance, from 2018-07-01",
    ),
    Rule(
        "AU.VALUE",
        "AU",
        "valuation",
        date(2016, 1, 1),
        None,
        "Duty on the customs value (FOB: international transport and insurance excluded); "
        "import GST 10 % of the value of the taxable importation = customs value + duty + "
        "international transport and insurance",
        "Customs Act 1901 s.159-161; A New Tax System (GST) Act 1999 s.13-20; ATO 'Paying GST "
        "on imported goods'",
    ),
)
