"""What a simulation run is: the scenario switches, demand, disruptions and the parties' rates.

A scenario is data (TOML), validated by pydantic, so that a study can be re-run from its file.
Two presets frame the research question: ``siloed`` (each side runs its own systems: documents
re-keyed between shop, payment and forwarder, no bonded or overseas stock, parcels handed over
loose, last-mile carriers not connected, buyers pay the seller directly) and ``integrated`` (every
switch on). Each switch can be set on its own so that its effect can be told apart.

The rates below are modelling parameters of the simulated outside parties, not facts about real
companies; their defaults are stated in ``docs/simulation.md`` with the reasoning behind them.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from xborder.domain.errors import InvalidValue

SWITCHES = ("shared_data", "warehouses", "consolidation", "full_tracking", "escrow")
PRESETS = ("siloed", "integrated")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Switches(_Frozen):
    """What integrating the two sides changes, each separately toggleable."""

    shared_data: bool = True  # order, payment and waybill pre-validated before filing
    warehouses: bool = True  # bonded and overseas warehouses in the network
    consolidation: bool = True  # the platform bags parcels per lane departure before hand-over
    full_tracking: bool = True  # every carrier connected: scans arrive as they happen
    escrow: bool = True  # buyer's money held in escrow; SLA penalties charged to the custodian


class Peak(_Frozen):
    """A sales peak: demand times ``factor`` for ``days`` days from ``month``/``day``, or from
    Black Friday (the day after the fourth Thursday of November) when ``rule`` says so."""

    name: str
    factor: float = Field(gt=0)
    days: int = Field(default=1, ge=1, le=31)
    month: int | None = Field(default=None, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    rule: Literal["black_friday"] | None = None

    def starts(self, year: int) -> date:
        if self.rule == "black_friday":
            first = date(year, 11, 1)
            thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
            return thursday + timedelta(days=1)
        if self.month is None or self.day is None:
            raise InvalidValue(f"peak {self.name}", "needs month and day, or rule")
        return date(year, self.month, self.day)

    def factor_on(self, on: date) -> float:
        start = self.starts(on.year)
        return self.factor if start <= on < start + timedelta(days=self.days) else 1.0


DEFAULT_PEAKS = (
    # Double 11 (Singles' Day, 11 November): the largest e-commerce sales day in China.
    Peak(name="Double 11", factor=3.0, days=2, month=11, day=11),
    # Black Friday to Cyber Monday: four days of peak demand in the US and Europe.
    Peak(name="Black Friday", factor=2.5, days=4, rule="black_friday"),
)


class Demand(_Frozen):
    """Orders per day: a Poisson draw around ``orders_per_day`` times the weekday's factor
    (Monday first) times any peak's factor. Markets and SKUs follow the world's demand."""

    orders_per_day: int = Field(default=200, ge=0)
    weekly: tuple[float, float, float, float, float, float, float] = (
        1.05, 1.0, 1.0, 1.0, 1.05, 0.9, 1.0,
    )  # fmt: skip
    peaks: tuple[Peak, ...] = DEFAULT_PEAKS
    poisson: bool = True  # draw each day's count; False: exactly the expected count

    @field_validator("weekly")
    @classmethod
    def _positive(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(x < 0 for x in v):
            raise ValueError("weekday factors must be >= 0")
        return v

    def expected(self, on: date) -> float:
        factor = self.weekly[on.weekday()]
        for peak in self.peaks:
            factor *= peak.factor_on(on)
        return self.orders_per_day * factor


class Disruption(_Frozen):
    """Something that goes wrong outside the platform for ``days`` days from day ``start``
    (0 = the first simulated day). ``lane`` or ``country`` narrow it; none means everywhere.

    - ``delayed_departure``: departures on the lane leave ``hours`` late (a delayed flight);
    - ``capacity_cut``: the carrier takes only ``factor`` of the bags; the rest wait for the
      first departure after the cut;
    - ``port_closure``: nothing departs on the lane (or from/to ``country``) until it reopens;
    - ``customs_slowdown``: customs in ``country`` takes ``factor`` times as long to decide.
    """

    kind: Literal["delayed_departure", "capacity_cut", "port_closure", "customs_slowdown"]
    start: int = Field(ge=0)
    days: int = Field(ge=1)
    lane: str | None = None
    country: str | None = None
    hours: float = Field(default=0.0, ge=0)
    factor: float = Field(default=1.0, ge=0)

    def active(self, first_day: date, on: date) -> bool:
        begin = first_day + timedelta(days=self.start)
        return begin <= on < begin + timedelta(days=self.days)

    def ends(self, first_day: date) -> date:
        return first_day + timedelta(days=self.start + self.days)


class Rates(_Frozen):
    """The simulated parties' behaviour (modelling parameters, see docs/simulation.md)."""

    pay_share: float = Field(default=0.9, ge=0, le=1)
    document_error: float = Field(default=0.08, ge=0, le=1)  # declarations with a discrepancy
    prevalidation_catch: float = Field(default=0.9, ge=0, le=1)  # caught before filing (shared)
    customs_hold: float = Field(default=0.02, ge=0, le=1)
    customs_inspect: float = Field(default=0.03, ge=0, le=1)
    customs_reject: float = Field(default=0.002, ge=0, le=1)
    untracked_share: float = Field(default=0.4, ge=0, le=1)  # parcels of unconnected carriers
    loose_handover_delay_hours: float = Field(default=24.0, ge=0)  # carrier sorts loose parcels


class Replenishment(_Frozen):
    """(s, S) reorder policy of bonded and overseas stock: when a SKU's position (available plus
    inbound) falls below ``reorder_point`` of its opening stock, order it back up to the
    opening stock; it arrives ``lead_days`` later (by kind of warehouse)."""

    enabled: bool = True
    reorder_point: float = Field(default=0.4, gt=0, le=1)
    lead_days: dict[str, int] = Field(default_factory=lambda: {"bonded": 7, "overseas": 21})


class ScenarioConfig(_Frozen):
    name: str = "integrated"
    switches: Switches = Switches()
    demand: Demand = Demand()
    rates: Rates = Rates()
    disruptions: tuple[Disruption, ...] = ()
    replenishment: Replenishment = Replenishment()

    def with_switches(self, **changes: bool) -> ScenarioConfig:
        unknown = set(changes) - set(SWITCHES)
        if unknown:
            raise InvalidValue("switches", f"unknown switch(es) {sorted(unknown)}")
        return self.model_copy(update={"switches": self.switches.model_copy(update=changes)})


def preset(name: str) -> ScenarioConfig:
    """``integrated`` (every switch on) or ``siloed`` (every switch off)."""
    if name not in PRESETS:
        raise InvalidValue("scenario", f"unknown preset {name!r}; use {', '.join(PRESETS)}")
    on = name == "integrated"
    return ScenarioConfig(name=name, switches=Switches(**dict.fromkeys(SWITCHES, on)))


def parse_scenario(raw: dict[str, Any], where: str = "scenario") -> ScenarioConfig:
    """A scenario from TOML data: ``base = "siloed"|"integrated"`` picks the preset whose
    switches it starts from; every other table overrides. Errors name the field."""
    data = dict(raw)
    base = preset(str(data.pop("base", "integrated")))
    merged = base.model_dump()
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    merged.setdefault("name", base.name)
    try:
        return ScenarioConfig.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise InvalidValue(f"{where}: {place}", first["msg"]) from None


def load_scenario(name_or_path: str) -> ScenarioConfig:
    """A preset by name, a shipped scenario file by name, or a TOML file by path."""
    if name_or_path in PRESETS:
        return preset(name_or_path)
    shipped = resources.files("xborder").joinpath("data", "scenarios", f"{name_or_path}.toml")
    path = Path(name_or_path)
    try:
        text = (
            shipped.read_text(encoding="utf-8")
            if shipped.is_file()
            else path.read_text(encoding="utf-8")
        )
    except OSError as exc:
        raise InvalidValue(name_or_path, f"no such preset or file ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(name_or_path, f"not valid TOML: {exc}") from None
    raw.setdefault("name", path.stem)
    return parse_scenario(raw, name_or_path)
