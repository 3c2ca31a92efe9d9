"""Simulation runs (operator): start a small study, follow it, read its report."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from xborder.api.deps import platform, scoped, settings
from xborder.api.models import Instant
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.api.settings import ApiSettings
from xborder.api.sim_runs import RunRequest, read_run, report_file, start_run
from xborder.bootstrap import Platform
from xborder.domain.errors import NotFound
from xborder.services.access import ApiRole, Principal
from xborder.services.tenancy import require_role

router = APIRouter(tags=["simulations"], responses=PROBLEM_RESPONSES)
RUN = Path(..., pattern=r"^[0-9a-f]{32}$", description="run id")


class RunIn(BaseModel):
    """A small study: each scenario once (one replication), on the demo world."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[str] = Field(default=["siloed", "integrated"], min_length=1, max_length=4)
    days: int = Field(3, ge=1, le=28)
    orders_per_day: int | None = Field(None, ge=0, le=2000)
    seed: int = Field(7, ge=0, le=2**31)
    drain_days: int = Field(7, ge=0, le=28)
    period_days: int = Field(7, ge=1, le=28)


class RunStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: Instant
    finished_at: Instant | None = None
    request: dict[str, Any]
    error: str | None = None
    kpis: dict[str, dict[str, int | float | str | None]] | None = None
    report: str | None = Field(None, description="path of the HTML report once done")


def _operator(caller: Principal = Depends(scoped("simulate:run"))) -> Principal:
    require_role(caller, ApiRole.OPERATOR)
    return caller


def _status(found: dict[str, Any]) -> RunStatus:
    report = f"/simulations/{found['id']}/report.html" if found["status"] == "done" else None
    return RunStatus(**found, report=report)


@router.post("/simulations", response_model=RunStatus, status_code=202,
             summary="Start a simulation run in the background")  # fmt: skip
def post_simulation(
    body: RunIn,
    caller: Principal = Depends(_operator),
    plat: Platform = Depends(platform),
    conf: ApiSettings = Depends(settings),
) -> RunStatus:
    request = RunRequest(tuple(body.scenarios), body.days, body.orders_per_day, body.seed,
                         body.drain_days, body.period_days)  # fmt: skip
    run_id = start_run(conf.simulations_dir, plat.clock, request, inline=conf.simulations_inline)
    found = read_run(conf.simulations_dir, run_id)
    assert found is not None
    return _status(found)


@router.get("/simulations/{run_id}", response_model=RunStatus, summary="A run's status and KPIs")
def get_simulation(
    run_id: str = RUN,
    caller: Principal = Depends(_operator),
    conf: ApiSettings = Depends(settings),
) -> RunStatus:
    found = read_run(conf.simulations_dir, run_id)
    if found is None:
        raise NotFound(f"no simulation run {run_id}")
    return _status(found)


@router.get("/simulations/{run_id}/report.html", response_class=FileResponse,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "The run's HTML report"}},
            summary="A finished run's report")  # fmt: skip
def get_simulation_report(
    run_id: str = RUN,
    caller: Principal = Depends(_operator),
    conf: ApiSettings = Depends(settings),
) -> FileResponse:
    path = report_file(conf.simulations_dir, run_id)
    if path is None:
        raise NotFound(f"simulation run {run_id} has no report (yet)")
    return FileResponse(path, media_type="text/html")
