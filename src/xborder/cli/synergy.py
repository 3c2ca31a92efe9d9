"""``xborder synergy FILE.csv --spec SPEC.json``: coupling coordination and synergy of two
subsystems on outside indicator data (years or regions as rows).

The default view is for a person at 80 columns: the per-row table (U1, U2, C, T, D, grade, lag),
the weights and the synergy series; ``--json`` prints exactly ``{"rows", "weights", "synergy"}``.
The service, NumPy and polars are imported inside the command so ``xborder --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import typer
from rich import box
from rich.table import Table

from xborder.cli.common import JSON_OPTION, console, emit_json, fail
from xborder.domain.errors import DomainError

if TYPE_CHECKING:
    from xborder.services.synergy import SynergyOptions, SynergyResult

FORMS = ("standard", "wang2021", "fan2024")
NOTES = {
    "wang2021": "C after Wang, Kong, Ren, Zhi & Dai 2021 (J. Natural Resources 36(3)).",
    "fan2024": "C after Fan, Ke & Cao 2024 (Statistics and Decision 40) as documented by the R "
    "package coupling; not checked against the paper itself (see docs/synergy.md).",
}


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        fail(f"{option}: must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _options(
    form: str, weights: str, shift: float, interval: str | None, a: float, b: float,
    tolerance: float, scale: Path | None, order: str,
) -> SynergyOptions:  # fmt: skip
    from xborder.services import synergy as svc

    if interval is not None:
        try:
            low, high = (float(part) for part in interval.split(","))
        except ValueError:
            fail(f"--interval: expected LOW,HIGH such as 0.002,0.998 (got {interval!r})")
        normalisation = svc.Normalisation("interval", low=low, high=high)
    else:
        normalisation = svc.Normalisation("shift", shift=shift)
    levels = svc.read_scale(scale) if scale is not None else svc.TEN_LEVELS
    params = svc.CouplingParams(
        normalisation=normalisation,
        weights=cast(Literal["entropy", "equal"], _choice(weights, ("entropy", "equal"),
                                                          "--weights")),
        form=cast(Literal["standard", "wang2021", "fan2024"], _choice(form, FORMS, "--form")),
        coefficients=(a, b), tolerance=tolerance, scale=levels,
    )  # fmt: skip
    aggregation = _choice(order, ("geometric", "linear"), "--order")
    return svc.SynergyOptions(params, cast(Literal["geometric", "linear"], aggregation))


def _grid(title: str, *columns: str, right: tuple[str, ...] = ()) -> Table:
    """A borderless table under a heading line (a Rich title would wrap to the table's width)."""
    console.print(f"[bold]{title}[/]")
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in columns:
        grid.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return grid


def _show(result: SynergyResult, lang: str, form: str) -> None:
    numbers = ("U1", "U2", "C", "T", "D")
    rows = _grid("Coupling coordination", "id", *numbers, "grade", "lag", right=numbers)
    rows.columns[6].min_width, rows.columns[7].min_width = 12, 11  # wrap on words, not inside
    for r in result.rows:
        name = r.grade.english if lang == "en" else r.grade.chinese
        rows.add_row(r.id, *(f"{v:.3f}" for v in (r.u1, r.u2, r.c, r.t, r.d)), name, r.lag)
    console.print(rows)
    if form in NOTES:
        console.print(NOTES[form], style="dim")
    weights = _grid("Weights", "subsystem", "indicator", "weight", right=("weight",))
    for system, per in result.weights.items():
        for indicator, weight in per.items():
            weights.add_row(system, indicator, f"{weight:.4f}")
    console.print(weights)
    steps = _grid("Synergy degree (each row against the one before)", "from", "to", "synergy",
                  right=("synergy",))  # fmt: skip
    for step in result.synergy:
        steps.add_row(step.base, step.id, f"{step.value:+.4f}")
    console.print(steps)
    grey = _grid("Grey relational grade of each indicator to D", "indicator", "grade",
                 right=("grade",))  # fmt: skip
    for indicator, value in result.grey:
        grey.add_row(indicator, f"{value:.4f}")
    console.print(grey)


def synergy(
    file: Path = typer.Argument(..., help="Indicator CSV: one row per period or region."),
    spec: Path = typer.Option(..., "--spec", help='JSON: {"id": COLUMN, "subsystems": '
                              '{NAME: {COLUMN: "+"|"-", ...}, NAME: {...}}} (first = U1).'),
    json_out: bool = JSON_OPTION,
    form: str = typer.Option("standard", "--form", help="Coupling C: standard | wang2021 | "
                             "fan2024."),
    weights: str = typer.Option("entropy", "--weights", help="entropy | equal (ignored for "
                                "indicators whose weights the spec fixes)."),
    shift: float = typer.Option(0.0001, "--shift", help="Added to every min-max score."),
    interval: str | None = typer.Option(None, "--interval", help="LOW,HIGH: rescale min-max "
                                        "scores into [LOW, HIGH] instead of shifting."),
    a: float = typer.Option(0.5, "-a", "--a", help="Weight of U1 in T = a*U1 + b*U2."),
    b: float = typer.Option(0.5, "-b", "--b", help="Weight of U2 in T."),
    tolerance: float = typer.Option(0.1, "--tolerance", help="|U1 - U2| up to this is "
                                    "synchronous (no lag)."),
    scale: Path | None = typer.Option(None, "--scale", help='Grading scale JSON: [{"upper": '
                                      '0.1, "en": NAME, "zh": NAME}, ...] (default: 10 levels).'),
    lang: str = typer.Option("en", "--lang", help="Grade names: en | zh."),
    order: str = typer.Option("geometric", "--order", help="Order degree: geometric | linear."),
) -> None:  # fmt: skip
    """Coupling coordination (U1, U2, C, T, D, grade, lag) and synergy of two subsystems."""
    from xborder.services.synergy import AnalyseIndicators, analyse_indicators

    _choice(lang, ("en", "zh"), "--lang")
    try:
        options = _options(form, weights, shift, interval, a, b, tolerance, scale, order)
        result = analyse_indicators(AnalyseIndicators(file, spec, options))
    except DomainError as exc:
        fail(str(exc))
    if json_out:
        emit_json(result.as_json(cast(Literal["en", "zh"], lang)))
        return
    _show(result, lang, form)
