"""Settlement use cases: the one import for entry points (CLI, API, simulator).

Every use case is ``verb(uow, command) -> result``: it opens the unit of work (joining the
caller's transaction when called from inside another use case), works through the repositories,
and commits itself (only the outermost unit of work really commits). Times come from
``uow.clock``; nothing is dated after its now. The modules behind this facade, one purpose each:

- ``settlement_posting``: posting transfers (the ledger's only write path);
- ``settlement_escrow``: the escrow lifecycle (capture, tax, delivery, confirmation, refunds);
- ``settlement_claims``: partners' pay, loss compensation from the trace record, declared taxes;
- ``settlement_lifecycle``: money derived from the stored lifecycle facts, and its counters;
- ``settlement_statements``: balances and statements in plain words;
- ``settlement_split``: the benefit split between partners (Shapley, core, nucleolus, Nash);
- ``settlement_verify``: every balance recomputed from the transfers (``settle verify``).

The engine's types the entry points need (the terms, the ledger's transfer and account key) are
re-exported here, so no entry point imports ``xborder.settlement`` itself.
"""

from __future__ import annotations

from xborder.services.settlement_claims import (
    FINDING_SCHEMA,
    CompensateFromTrace,
    CompensateLoss,
    DeclaredTaxes,
    PayByRateCards,
    PayPartners,
    SettleDeclaredTaxes,
    TraceFindings,
    compensate_from_trace,
    compensate_loss,
    pay_by_rate_cards,
    pay_partners,
    settle_declared_taxes,
    trace_findings,
)
from xborder.services.settlement_escrow import (
    STEP_STATE,
    AutoConfirm,
    CapturePaid,
    ConfirmDelivery,
    EscrowState,
    MarkDelivered,
    OrderTransfers,
    RefundOrders,
    RemitTaxes,
    WithholdTax,
    WithholdTaxes,
    auto_confirm,
    capture_paid,
    confirm_delivery,
    escrow_state,
    mark_delivered,
    order_transfers,
    refund_orders,
    remit_taxes,
    withhold_tax_for,
    withhold_taxes,
)
from xborder.services.settlement_lifecycle import (
    LifecycleSettlement,
    SettleLifecycle,
    settle_lifecycle,
    settlement_counts,
)
from xborder.services.settlement_posting import (
    PostFrame,
    PostResult,
    PostTransfers,
    facts,
    post_frame,
    post_transfers,
    transfers_frame,
)
from xborder.services.settlement_split import SplitBenefit, split_benefit
from xborder.services.settlement_statements import (
    Balances,
    Movement,
    Statement,
    StatementLine,
    StatementQuery,
    balances,
    statement,
)
from xborder.services.settlement_verify import (
    BalanceMismatch,
    BrokenTransfer,
    LedgerCheck,
    VerifyLedger,
    verify_ledger,
)
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.ledger import AccountKey, Kind, Purpose, Transfer
from xborder.settlement.milestones import COUNTERS
from xborder.settlement.sla import SlaTerms
from xborder.store.uow import UnitOfWork


def escrow_holder(uow: UnitOfWork) -> str | None:
    """The default escrow holder: the first payment provider among the parties, if any."""
    with uow:
        return facts(uow).escrow_holder()


__all__ = [
    "COUNTERS", "FINDING_SCHEMA", "STEP_STATE", "AccountKey", "AutoConfirm", "BalanceMismatch",
    "Balances", "BrokenTransfer", "CapturePaid", "CompensateFromTrace", "CompensateLoss",
    "ConfirmDelivery", "DeclaredTaxes", "EscrowState", "EscrowTerms", "Kind", "LedgerCheck",
    "LifecycleSettlement", "MarkDelivered", "Movement", "OrderTransfers", "PayByRateCards",
    "PayPartners", "PostFrame", "PostResult", "PostTransfers", "Purpose", "RefundOrders",
    "RemitTaxes", "SettleDeclaredTaxes", "SettleLifecycle", "SlaTerms", "SplitBenefit",
    "Statement", "StatementLine", "StatementQuery", "TraceFindings", "Transfer", "VerifyLedger",
    "WithholdTax", "WithholdTaxes", "auto_confirm", "balances", "capture_paid",
    "compensate_from_trace", "compensate_loss", "confirm_delivery", "escrow_holder",
    "escrow_state", "mark_delivered", "order_transfers", "pay_by_rate_cards", "pay_partners",
    "post_frame", "post_transfers", "refund_orders", "remit_taxes", "settle_declared_taxes",
    "settle_lifecycle", "settlement_counts", "split_benefit", "statement", "trace_findings",
    "transfers_frame", "verify_ledger", "withhold_tax_for", "withhold_taxes",
]  # fmt: skip
