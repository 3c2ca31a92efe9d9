"""Simulation runs started over HTTP: a small study in a background thread, kept in a folder.

Each run gets a random id and a folder ``<data dir>/simulations/<id>`` holding ``status.json``
(written atomically at each change), then ``kpis.json`` and ``report.html``. Every worker
process reads the same folder, so any of them can answer for a run another one started. The
study itself runs on throw-away stores of its own (``xborder.simulation``), never on the
platform's store; its simulated time comes from its own clocks. Only shipped scenarios (the
presets and ``data/scenarios``) can be named: a request cannot make the server read a file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xborder.domain.clock import Clock
from xborder.domain.errors import DomainError, InvalidValue

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
SHIPPED = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
log = logging.getLogger("xborder.api.simulations")


@dataclass(frozen=True, slots=True)
class RunRequest:
    scenarios: tuple[str, ...]
    days: int
    orders_per_day: int | None
    seed: int
    drain_days: int
    period_days: int


def _write(folder: Path, name: str, data: dict[str, Any]) -> None:
    tmp = folder / f".{name}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(tmp, folder / name)


def _status(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    return data


def _update(folder: Path, **changes: Any) -> None:
    _write(folder, "status.json", {**_status(folder), **changes})


def check_request(request: RunRequest) -> None:
    for name in request.scenarios:
        if not SHIPPED.match(name):
            raise InvalidValue("scenarios", "name a shipped scenario (siloed, integrated, ...)",
                               name)  # fmt: skip
    if len(set(request.scenarios)) != len(request.scenarios):
        raise InvalidValue("scenarios", "each scenario once")


def start_run(root: Path, clock: Clock, request: RunRequest, *, inline: bool = False) -> str:
    """Create the run's folder and start the study (in this thread when ``inline``)."""
    check_request(request)
    run_id = uuid.uuid4().hex
    folder = root / run_id
    folder.mkdir(parents=True)
    _write(folder, "status.json", {
        "id": run_id, "status": "queued", "created_at": clock.now().isoformat(),
        "finished_at": None, "request": asdict(request), "error": None, "kpis": None,
    })  # fmt: skip
    if inline:
        _run(folder, clock, request)
    else:
        threading.Thread(target=_run, args=(folder, clock, request), daemon=True,
                         name=f"simulation-{run_id[:8]}").start()  # fmt: skip
    return run_id


def _headline(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per scenario, each KPI's mean (money as exact text)."""
    from xborder.simulation.report import plain

    return {
        name: {key: plain(stat.get("mean")) if isinstance(stat, dict) else plain(stat)
               for key, stat in scenario["kpis"].items()}
        for name, scenario in summary["scenarios"].items()
    }  # fmt: skip


def _run(folder: Path, clock: Clock, request: RunRequest) -> None:
    from xborder.services.world import read_world
    from xborder.simulation.config import load_scenario
    from xborder.simulation.replications import run_replication
    from xborder.simulation.report import write_report
    from xborder.simulation.study import Study, summarise

    try:
        _update(folder, status="running")
        configs = []
        for name in request.scenarios:
            config = load_scenario(name)
            if request.orders_per_day is not None:
                demand = config.demand.model_copy(update={"orders_per_day": request.orders_per_day})
                config = config.model_copy(update={"demand": demand})
            configs.append(config)
        world = read_world(None)
        study = Study(tuple(configs), request.seed, 1, world.meta.valid_on, request.days,
                      request.drain_days, request.period_days)  # fmt: skip
        summary = summarise(study, [run_replication(r) for r in study.runs()])
        write_report(summary, folder)
        _update(folder, status="done", finished_at=clock.now().isoformat(),
                kpis=_headline(summary))  # fmt: skip
    except DomainError as exc:
        _update(folder, status="failed", finished_at=clock.now().isoformat(), error=str(exc))
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("simulation run %s failed (incident %s)", folder.name, incident)
        _update(folder, status="failed", finished_at=clock.now().isoformat(),
                error=f"the run failed (incident {incident})")  # fmt: skip


def _folder(root: Path, run_id: str) -> Path | None:
    if not RUN_ID.match(run_id):
        return None
    folder = root / run_id
    return folder if (folder / "status.json").is_file() else None


def read_run(root: Path, run_id: str) -> dict[str, Any] | None:
    folder = _folder(root, run_id)
    return None if folder is None else _status(folder)


def report_file(root: Path, run_id: str) -> Path | None:
    folder = _folder(root, run_id)
    if folder is None or not (folder / "report.html").is_file():
        return None
    return folder / "report.html"
