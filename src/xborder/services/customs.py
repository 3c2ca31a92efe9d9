"""Customs use cases: landed-cost quotes, declarations, receipts, returns, the three-document match.

Every use case is ``verb(uow, command) -> result``: it opens the unit of work itself, works through
the repositories, commits when it writes, and reads time from ``uow.clock``. Called inside another
use case's unit of work, it joins that transaction. This module is the one place entry points
import customs from; the use cases live in ``customs_*`` modules by purpose:

| module | use cases |
| --- | --- |
| ``customs_quote`` | ``quote`` (one order, optionally with the store), ``quote_many`` (pure) |
| ``customs_declare`` | ``declare_orders``, ``annual_total`` |
| ``customs_receipts`` | ``record_receipt``, ``record_receipts`` (set-wise), ``return_goods`` |
| ``customs_match`` | ``match`` (documents handed in), ``match_declared`` (stored orders) |
| ``customs_queries`` | ``declared_orders``, ``declaration_for_order``, ``landed_cost_summary`` |
| ``customs_documents`` | the CEB documents of stored orders (pure) |
| ``customs_messages`` | CEB XML and tariff books for the entry points |
"""

from __future__ import annotations

from xborder.customs.declaration_status import RECEIPT_CODES, Status
from xborder.customs.match import Documents
from xborder.services.customs_declare import (
    AnnualTotal,
    BuyerAnnualTotal,
    DeclareOrders,
    DeclareReport,
    annual_total,
    declare_orders,
)
from xborder.services.customs_documents import ILLUSTRATIVE_LOGISTICS_CODE, cn_documents
from xborder.services.customs_match import (
    MatchDeclared,
    MatchDocuments,
    MatchProblem,
    MatchReport,
    documents_from_records,
    match,
    match_declared,
)
from xborder.services.customs_messages import (
    MESSAGE_TYPES,
    Message,
    TariffBook,
    build_message,
    ceb_records,
    json_document,
    json_records,
    load_tariff_csv,
    parse_message,
    shipped_book,
)
from xborder.services.customs_queries import (
    declaration_for_order,
    declared_orders,
    landed_cost_summary,
)
from xborder.services.customs_quote import QuoteOrder, quote, quote_in_waves, quote_many
from xborder.services.customs_receipts import (
    ReceiptResult,
    RecordReceipt,
    RecordReceipts,
    ReturnGoods,
    ReturnResult,
    record_receipt,
    record_receipts,
    return_goods,
)

__all__ = [
    "ILLUSTRATIVE_LOGISTICS_CODE",
    "MESSAGE_TYPES",
    "RECEIPT_CODES",
    "AnnualTotal",
    "BuyerAnnualTotal",
    "DeclareOrders",
    "DeclareReport",
    "Documents",
    "MatchDeclared",
    "MatchDocuments",
    "MatchProblem",
    "MatchReport",
    "Message",
    "QuoteOrder",
    "ReceiptResult",
    "RecordReceipt",
    "RecordReceipts",
    "ReturnGoods",
    "ReturnResult",
    "Status",
    "TariffBook",
    "annual_total",
    "build_message",
    "ceb_records",
    "cn_documents",
    "declaration_for_order",
    "declare_orders",
    "declared_orders",
    "documents_from_records",
    "json_document",
    "json_records",
    "landed_cost_summary",
    "load_tariff_csv",
    "match",
    "match_declared",
    "parse_message",
    "quote",
    "quote_in_waves",
    "quote_many",
    "record_receipt",
    "record_receipts",
    "return_goods",
    "shipped_book",
]
