"""Run every ``benchmarks/bench_*.py`` (``--quick``: at its small CI size) and summarise.

Each script runs as its own subprocess, one after the other (they measure; running two at once
would measure the contention). Its output goes straight to this process's output, so a CI log
keeps every figure and baseline. The summary table gives name, status and wall seconds; the exit
status is non-zero if any script failed.

"Failed" means: exit status not 0, killed by the per-script timeout, or files left behind in the
temporary directory. Each script gets a private, empty ``TMPDIR`` (so ``tempfile.gettempdir()``
inside the script is that folder, and a leftover is found exactly, whatever else the machine runs);
the listing of the system temporary directory is also compared before and after each script, to
catch a script that writes to a hard-coded ``/tmp`` path. On a shared machine another process may
create an entry there at the same time, so a new entry there is a failure only with
``--strict-tmp`` (CI, where nothing else runs) and otherwise a note in the summary.
No timing is asserted: the point is that no benchmark rots.

    .venv/bin/python benchmarks/run_all.py --quick              # every script, small sizes
    .venv/bin/python benchmarks/run_all.py --quick trace ledger # only those two
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass
class Outcome:
    name: str
    status: str  # ok | failed | timeout | leftovers
    seconds: float
    notes: list[str] = field(default_factory=list)


def scripts(names: list[str]) -> list[Path]:
    """The benchmark scripts, in name order; ``names`` (``trace`` or ``bench_trace``) filters."""
    found = sorted(HERE.glob("bench_*.py"))
    if not names:
        return found
    wanted = {n.removeprefix("bench_").removesuffix(".py") for n in names}
    chosen = [p for p in found if p.stem.removeprefix("bench_") in wanted]
    missing = wanted - {p.stem.removeprefix("bench_") for p in chosen}
    if missing:
        raise SystemExit(f"run_all: no benchmark named {', '.join(sorted(missing))}")
    return chosen


def listing(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except FileNotFoundError:
        return set()


def run_one(
    script: Path,
    quick: bool,
    timeout: float,
    system_tmp: Path | None = None,
    strict_tmp: bool = True,
) -> Outcome:
    """Run one script; ``system_tmp`` (default: the system's temporary directory) is the shared
    folder whose listing is compared before and after (a failure if ``strict_tmp``)."""
    name = script.stem.removeprefix("bench_")
    system_tmp = system_tmp or Path(tempfile.gettempdir())
    private = Path(tempfile.mkdtemp(prefix=f"xb-run-all-{name}-"))
    before = listing(system_tmp)
    env = {**os.environ, "TMPDIR": str(private), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, str(script), *(["--quick"] if quick else [])]
    print(f"\n=== {script.name} {' '.join(command[2:])} ===", flush=True)
    began = time.perf_counter()
    # a session of its own: on a timeout the whole group (servers, workers) is stopped
    proc = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
    outcome = Outcome(name, "ok", 0.0)
    try:
        code = proc.wait(timeout=timeout)
        if code != 0:
            outcome.status = "failed"
            outcome.notes.append(f"exit status {code}")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        outcome.status = "timeout"
        outcome.notes.append(f"stopped after {timeout:.0f} s")
    outcome.seconds = time.perf_counter() - began
    left = sorted(listing(private))
    new_system = sorted(listing(system_tmp) - before - {private.name})
    shutil.rmtree(private, ignore_errors=True)
    if left:
        outcome.notes.append(f"left in its temp dir: {', '.join(left[:5])}")
    if new_system:
        maybe = "" if strict_tmp else " (not counted: perhaps another process)"
        outcome.notes.append(f"new in {system_tmp}{maybe}: {', '.join(new_system[:5])}")
    if (left or (new_system and strict_tmp)) and outcome.status == "ok":
        outcome.status = "leftovers"
    return outcome


def summary(outcomes: list[Outcome]) -> str:
    width = max([len("benchmark"), *(len(o.name) for o in outcomes)])
    lines = [f"{'benchmark':<{width}}  {'status':<9}  {'seconds':>8}  notes"]
    lines.append("-" * len(lines[0]))
    for o in outcomes:
        lines.append(
            f"{o.name:<{width}}  {o.status:<9}  {o.seconds:>8.1f}  {'; '.join(o.notes)}".rstrip()
        )
    total = sum(o.seconds for o in outcomes)
    failed = sum(o.status != "ok" for o in outcomes)
    lines.append(f"{len(outcomes)} benchmarks, {failed} failed, {total:.1f} s in all")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these (e.g. trace ledger)")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per script (300 quick, else none)"
    )
    parser.add_argument(
        "--strict-tmp",
        action="store_true",
        help="a new entry in the system temp dir fails the script (CI: nothing else runs)",
    )
    args = parser.parse_args(argv)
    timeout = args.timeout or (300.0 if args.quick else 24 * 3600.0)
    outcomes = [run_one(s, args.quick, timeout, None, args.strict_tmp) for s in scripts(args.names)]
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{summary(outcomes)}\nload average after: {load}", flush=True)
    return 0 if all(o.status == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
