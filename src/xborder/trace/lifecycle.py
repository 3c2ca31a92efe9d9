"""The parcel lifecycle as EPCIS events: event type, action, bizStep and disposition per step.

CBV 2.0 (GS1 Core Business Vocabulary 2.0, ratified 2022-06, https://ref.gs1.org/cbv/) has no
customs or home-delivery values, so those steps use documented private URIs under
``https://xborder.dev/voc/`` (schema-valid: bizStep/disposition accept any URI outside the CBV
namespaces). Everything else uses the bare CBV word, which the EPCIS context expands to
``https://ref.gs1.org/cbv/BizStep-<word>`` / ``Disp-<word>``. The table is in docs/trace.md too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from xborder.domain.errors import InvalidValue
from xborder.domain.lifecycle import Step as Step  # re-exported: one enum for both layers
from xborder.trace.vocabulary import CBV

XB_VOC = "https://xborder.dev/voc/"


def xb_step(word: str) -> str:
    return f"{XB_VOC}BizStep-{word}"


def xb_disp(word: str) -> str:
    return f"{XB_VOC}Disp-{word}"


def xb_btt(word: str) -> str:
    return f"{XB_VOC}BTT-{word}"


class EventType(StrEnum):
    OBJECT = "ObjectEvent"
    AGGREGATION = "AggregationEvent"
    TRANSACTION = "TransactionEvent"
    TRANSFORMATION = "TransformationEvent"
    ASSOCIATION = "AssociationEvent"


class Action(StrEnum):
    ADD = "ADD"
    OBSERVE = "OBSERVE"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class StepSpec:
    """How one lifecycle step is written as an EPCIS event (values are full URIs)."""

    step: Step
    event_type: EventType
    action: Action
    biz_step: str
    disposition: str
    label: str  # what a buyer's tracking page says


def _cbv_step(word: str) -> str:
    return f"{CBV}BizStep-{word}"


def _cbv_disp(word: str) -> str:
    return f"{CBV}Disp-{word}"


_O, _A, _T = EventType.OBJECT, EventType.AGGREGATION, EventType.TRANSACTION
LIFECYCLE: dict[Step, StepSpec] = {
    s.step: s
    for s in (
        StepSpec(
            Step.ORDER_PLACED,
            _T,
            Action.ADD,
            xb_step("order_placed"),
            _cbv_disp("active"),
            "Order placed",
        ),
        StepSpec(
            Step.PICKED_PACKED,
            _O,
            Action.ADD,
            _cbv_step("packing"),
            _cbv_disp("container_closed"),
            "Packed",
        ),
        StepSpec(
            Step.CONSOLIDATED,
            _A,
            Action.ADD,
            _cbv_step("packing"),
            _cbv_disp("container_closed"),
            "Consolidated at hub",
        ),
        StepSpec(
            Step.DEPARTED,
            _O,
            Action.OBSERVE,
            _cbv_step("departing"),
            _cbv_disp("in_transit"),
            "Departed",
        ),
        StepSpec(
            Step.ARRIVED,
            _O,
            Action.OBSERVE,
            _cbv_step("arriving"),
            _cbv_disp("in_transit"),
            "Arrived",
        ),
        StepSpec(
            Step.EXPORT_HELD,
            _O,
            Action.OBSERVE,
            _cbv_step("holding"),
            xb_disp("export_customs_hold"),
            "Held by export customs",
        ),
        StepSpec(
            Step.EXPORT_INSPECTED,
            _O,
            Action.OBSERVE,
            _cbv_step("inspecting"),
            xb_disp("export_customs_hold"),
            "Inspected by export customs",
        ),
        StepSpec(
            Step.EXPORT_RELEASED,
            _O,
            Action.OBSERVE,
            xb_step("export_clearance"),
            xb_disp("export_cleared"),
            "Export cleared",
        ),
        StepSpec(
            Step.EXPORT_REJECTED,
            _O,
            Action.OBSERVE,
            xb_step("export_clearance"),
            xb_disp("export_refused"),
            "Refused by export customs",
        ),
        StepSpec(
            Step.IMPORT_HELD,
            _O,
            Action.OBSERVE,
            _cbv_step("holding"),
            xb_disp("import_customs_hold"),
            "Held by import customs",
        ),
        StepSpec(
            Step.IMPORT_INSPECTED,
            _O,
            Action.OBSERVE,
            _cbv_step("inspecting"),
            xb_disp("import_customs_hold"),
            "Inspected by import customs",
        ),
        StepSpec(
            Step.IMPORT_RELEASED,
            _O,
            Action.OBSERVE,
            xb_step("import_clearance"),
            xb_disp("import_cleared"),
            "Import cleared",
        ),
        StepSpec(
            Step.IMPORT_REJECTED,
            _O,
            Action.OBSERVE,
            xb_step("import_clearance"),
            xb_disp("import_refused"),
            "Refused by import customs",
        ),
        StepSpec(
            Step.DECONSOLIDATED,
            _A,
            Action.DELETE,
            _cbv_step("unpacking"),
            _cbv_disp("container_open"),
            "Unpacked at destination hub",
        ),
        StepSpec(
            Step.OUT_FOR_DELIVERY,
            _O,
            Action.OBSERVE,
            xb_step("out_for_delivery"),
            _cbv_disp("in_transit"),
            "Out for delivery",
        ),
        StepSpec(
            Step.DELIVERY_ATTEMPT,
            _O,
            Action.OBSERVE,
            xb_step("delivery_attempt"),
            xb_disp("delivery_failed"),
            "Delivery attempted",
        ),
        StepSpec(
            Step.DELIVERED,
            _O,
            Action.OBSERVE,
            _cbv_step("accepting"),
            xb_disp("delivered"),
            "Delivered",
        ),
        StepSpec(
            Step.DAMAGED,
            _O,
            Action.OBSERVE,
            _cbv_step("inspecting"),
            _cbv_disp("damaged"),
            "Damaged",
        ),
        StepSpec(Step.LOST, _O, Action.OBSERVE, xb_step("loss_declared"), xb_disp("lost"), "Lost"),
        StepSpec(
            Step.RETURNED,
            _O,
            Action.OBSERVE,
            _cbv_step("receiving"),
            _cbv_disp("returned"),
            "Returned to sender",
        ),
    )
}

# Private business transaction types (CBV's ``po`` and ``bol`` are used for order and waybill).
BTT_ORDER = f"{CBV}BTT-po"
BTT_WAYBILL = f"{CBV}BTT-bol"
BTT_PAYMENT = xb_btt("payment")
BTT_MASTER_WAYBILL = xb_btt("master_waybill")
BTT_DECLARATION = xb_btt("customs_declaration")

CUSTOMS_HOLD_DISPOSITIONS = frozenset(
    {xb_disp("export_customs_hold"), xb_disp("import_customs_hold")}
)
CUSTOMS_RELEASE_DISPOSITIONS = frozenset({xb_disp("export_cleared"), xb_disp("import_cleared")})


def spec(step: str) -> StepSpec:
    try:
        return LIFECYCLE[Step(step)]
    except ValueError:
        raise InvalidValue(
            "step", f"unknown lifecycle step; one of {', '.join(Step)}", step
        ) from None


_BY_SIGNATURE = {
    (s.event_type.value, s.action.value, s.biz_step, s.disposition): s.step
    for s in LIFECYCLE.values()
}


def step_of(
    event_type: str | None, action: str | None, biz_step: str | None, disposition: str | None
) -> Step | None:
    """The lifecycle step an event stands for, if any (the table's columns are a unique key)."""
    return _BY_SIGNATURE.get((event_type or "", action or "", biz_step or "", disposition or ""))
