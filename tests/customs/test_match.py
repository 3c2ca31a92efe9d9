"""The three-document match: every rule caught, and a clean set matched."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from xborder.customs.match import documents, match_documents, result_records

RESIDENT_ID = "11010519491231002X"  # the checksum example of GB 11643-1999
ON = date(2025, 6, 1)


def doc_set(no: str = "O-1", **changes: Any) -> dict[str, dict[str, Any]]:
    buyer = {
        "buyerName": "Zhang Wei",
        "buyerIdType": "1",
        "buyerIdNumber": RESIDENT_ID,
        "buyerTelephone": "13800138000",
    }
    consignee = {
        "consignee": "Zhang Wei",
        "consigneeTelephone": "13800138000",
        "consigneeAddress": "1 Renmin Road, Zhengzhou",
    }
    docs: dict[str, dict[str, Any]] = {
        "order": {
            "orderNo": no,
            "ebpCode": "4101969905",
            "ebcCode": "3307969903",
            "goodsValue": "500.00",
            "freight": "20.00",
            "discount": "0",
            "taxTotal": "47.32",
            "acturalPaid": "567.32",
            "currency": "142",
            **buyer,
            **consignee,
            "payCode": "4403969901",
            "payTransactionId": f"T-{no}",
        },
        "payment": {
            "orderNo": no,
            "payCode": "4403969901",
            "payTransactionId": f"T-{no}",
            "amountPaid": "567.32",
            "currency": "142",
            "payerIdType": "1",
            "payerIdNumber": RESIDENT_ID,
            "payerName": "Zhang Wei",
        },
        "waybill": {
            "orderNo": no,
            "logisticsCode": "4403960001",
            "logisticsNo": f"YT{no}",
            "freight": "20.00",
            "insuredFee": "0",
            "currency": "142",
            **consignee,
        },
        "list": {
            "orderNo": no,
            "ebpCode": "4101969905",
            "ebcCode": "3307969903",
            "logisticsCode": "4403960001",
            "logisticsNo": f"YT{no}",
            **buyer,
            "freight": "20.00",
            "insuredFee": "0",
            "currency": "142",
            "lines": [{"gnum": "1", "gcode": "3304990099", "qty": "1", "totalPrice": "500.00"}],
        },
    }
    for kind, values in changes.items():
        docs[kind] = {**docs[kind], **values}
    return docs


def run(
    *sets: dict[str, dict[str, Any]], drop: str | None = None, annual: Any = None
) -> list[dict[str, Any]]:
    def kind(k: str) -> list[dict[str, Any]]:
        return [s[k] for s in sets if k != drop]

    docs = documents(kind("order"), kind("payment"), kind("waybill"), kind("list"))
    return result_records(match_documents(docs, ON, annual))


def problems(result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["rule"], p["field"]) for p in result["problems"]}


def test_a_consistent_set_matches() -> None:
    [result] = run(doc_set())
    assert result["status"] == "matched" and result["problems"] == []
    assert result["channel"] == "cbec"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"order": {"acturalPaid": "567.33"}, "payment": {"amountPaid": "567.33"}},
            ("paid_total", "acturalPaid"),
        ),
        ({"payment": {"amountPaid": "560.00"}}, ("payment_amount", "amountPaid")),
        ({"waybill": {"consignee": "Li Na"}}, ("consignee", "consignee")),
        ({"waybill": {"consigneeTelephone": "13900000000"}}, ("consignee", "consigneeTelephone")),
        ({"waybill": {"consigneeAddress": "2 Renmin Road"}}, ("consignee", "consigneeAddress")),
        ({"payment": {"payTransactionId": "T-other"}}, ("link", "payTransactionId")),
        ({"list": {"logisticsNo": "YT-other"}}, ("link", "logisticsNo")),
        ({"list": {"logisticsCode": "4403960002"}}, ("link", "logisticsCode")),
        ({"list": {"ebcCode": "3307969904"}}, ("link", "ebcCode")),
        ({"list": {"buyerName": "Zhang San"}}, ("buyer_identity", "buyerName")),
        ({"list": {"buyerIdNumber": "110105194912310029"}}, ("buyer_identity", "buyerIdNumber")),
        ({"list": {"buyerTelephone": "1"}}, ("buyer_identity", "buyerTelephone")),
        ({"payment": {"payerName": "Li Na"}}, ("payer_is_buyer", "payerName")),
        ({"payment": {"payerIdNumber": "110105194912310029"}}, ("payer_is_buyer", "payerIdNumber")),
        ({"order": {"currency": "156"}}, ("format", "CEB311.currency")),
        ({"payment": {"currency": "CNY"}}, ("format", "CEB411.currency")),
        ({"waybill": {"currency": "502"}}, ("format", "CEB511.currency")),
        ({"list": {"currency": "142 "}}, ("format", "CEB621.currency")),
        (
            {"order": {"buyerIdType": "2"}, "list": {"buyerIdType": "2"}},
            ("format", "CEB311.buyerIdType"),
        ),
        (
            {
                "order": {"buyerIdNumber": "110105194912310021"},
                "list": {"buyerIdNumber": "110105194912310021"},
                "payment": {"payerIdNumber": "110105194912310021"},
            },
            ("format", "CEB311.buyerIdNumber"),
        ),
        (
            {"order": {"ebpCode": "41019"}, "list": {"ebpCode": "41019"}},
            ("format", "CEB311.ebpCode"),
        ),
        ({"order": {"goodsValue": "500.001"}}, ("format", "CEB311.goodsValue")),
        (
            {"order": {"acturalPaid": "abc"}, "payment": {"amountPaid": "abc"}},
            ("format", "CEB311.acturalPaid"),
        ),
        (
            {"list": {"lines": [{"gnum": "1", "gcode": "9999990000", "qty": "1"}]}},
            ("hs_code", "lines[1].gcode"),
        ),
        (
            {"list": {"lines": [{"gnum": "2", "gcode": "33049900", "qty": "1"}]}},
            ("hs_code", "lines[2].gcode"),
        ),
    ],
)
def test_every_rule_is_caught(
    changes: dict[str, dict[str, Any]], expected: tuple[str, str]
) -> None:
    [result] = run(doc_set("O-1", **changes))
    assert result["status"] == "mismatch"
    assert expected in problems(result), result["problems"]


def test_order_number_too_long_is_a_format_problem() -> None:
    [result] = run(doc_set("O" * 61))
    assert ("format", "orderNo") in problems(result)


def test_a_missing_document_makes_the_order_incomplete() -> None:
    for kind, name in (
        ("payment", "CEB411 payment"),
        ("waybill", "CEB511 waybill"),
        ("list", "CEB621 list"),
        ("order", "CEB311 order"),
    ):
        [result] = run(doc_set(), drop=kind)
        assert result["status"] == "incomplete"
        assert {
            "rule": "link",
            "field": name,
            "expected": "present",
            "actual": "missing",
        } in result["problems"]


def test_duplicated_documents_are_a_link_problem() -> None:
    one = doc_set()
    docs = documents(
        [one["order"]], [one["payment"], one["payment"]], [one["waybill"]], [one["list"]]
    )
    [result] = result_records(match_documents(docs, ON))
    assert ("link", "CEB411 orderNo") in problems(result)


def test_limits_single_transaction() -> None:
    big = doc_set(
        order={"goodsValue": "6000.00", "taxTotal": "0", "acturalPaid": "6020.00"},
        payment={"amountPaid": "6020.00"},
        list={"lines": [{"gnum": "1", "gcode": "3304990099", "qty": "2"}]},
    )
    [result] = run(big)
    assert result["channel"] == "general"
    [limit] = [p for p in result["problems"] if p["rule"] == "limits"]
    assert limit["expected"] == "within 5000.00 per transaction and 26000.00 per year"
    assert "single-transaction limit RMB 5000.00 exceeded (RMB 6020.00)" in limit["actual"]


def test_limits_single_item_over_5000_clears_at_full_rate_and_is_reported() -> None:
    big = doc_set(
        order={"goodsValue": "6000.00", "taxTotal": "0", "acturalPaid": "6020.00"},
        payment={"amountPaid": "6020.00"},
    )
    [result] = run(big)
    assert result["channel"] == "cbec_full"
    assert ("limits", "acturalPaid") in problems(result)


def test_limits_annual_counts_the_stored_total_and_earlier_orders_of_the_batch() -> None:
    import polars as pl

    stored = pl.DataFrame({"buyerIdNumber": [RESIDENT_ID], "total_minor": [2_500_000]})
    first, second = doc_set("O-1"), doc_set("O-2")
    results = run(first, second, annual=stored)
    # 25,000 stored + 520 = 25,520 fits; + 520 again = 26,040 does not
    assert [r["status"] for r in results] == ["matched", "mismatch"]
    assert ("limits", "acturalPaid") in problems(results[1])
    assert "annual limit RMB 26000.00 exceeded" in results[1]["problems"][0]["actual"]


def test_many_orders_are_matched_independently() -> None:
    sets = [doc_set(f"O-{i}") for i in range(50)]
    sets[7]["payment"]["amountPaid"] = "1.00"
    results = run(*sets)
    assert len(results) == 50
    assert [r["orderNo"] for r in results if r["status"] != "matched"] == ["O-7"]
