"""``benchmarks/run_all.py``, the harness behind ``bash dev.sh bench all --quick`` (CI): a
failing script, a script killed by the timeout and a script that leaves files in temp all count
as failures; the summary names them. (The benchmarks themselves run in CI, not here.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


run_all = _run_all()


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / f"bench_{name}.py"
    path.write_text("import os, sys, tempfile, time\n" + body + "\n")
    return path


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """Stands in for the system's temporary directory (nothing else writes there)."""
    folder = tmp_path / "shared-tmp"
    folder.mkdir()
    return folder


def test_outcomes(tmp_path: Path, shared: Path) -> None:
    clean = _script(tmp_path, "clean", "assert '--quick' in sys.argv\n"
                    "with tempfile.TemporaryDirectory() as d:\n"
                    "    open(os.path.join(d, 'x'), 'w').write('x')")  # fmt: skip
    messy = _script(tmp_path, "messy", "tempfile.mkdtemp(prefix='left-')")
    hard = _script(tmp_path, "hard", f"open({str(shared / 'hard.db')!r}, 'w').write('x')")
    broken = _script(tmp_path, "broken", "sys.exit(3)")
    slow = _script(tmp_path, "slow", "time.sleep(30)")
    results = {
        s.stem: run_all.run_one(s, quick=True, timeout=5, system_tmp=shared)
        for s in (clean, messy, hard, broken, slow)
    }
    assert results["bench_clean"].status == "ok" and results["bench_clean"].notes == []
    assert results["bench_messy"].status == "leftovers"
    assert "left in its temp dir: left-" in results["bench_messy"].notes[0]
    assert results["bench_hard"].status == "leftovers"
    assert "hard.db" in results["bench_hard"].notes[0]
    assert results["bench_broken"].status == "failed"
    assert results["bench_broken"].notes == ["exit status 3"]
    assert results["bench_slow"].status == "timeout" and results["bench_slow"].seconds < 20
    (shared / "hard.db").unlink()
    lenient = run_all.run_one(hard, quick=True, timeout=5, system_tmp=shared, strict_tmp=False)
    assert lenient.status == "ok" and "not counted" in lenient.notes[0]  # a shared machine
    table = run_all.summary(list(results.values()))
    assert "5 benchmarks, 4 failed" in table
    lines = table.splitlines()
    assert [line.split()[:2] for line in lines[2:7]] == [
        ["clean", "ok"], ["messy", "leftovers"], ["hard", "leftovers"], ["broken", "failed"],
        ["slow", "timeout"],
    ]  # fmt: skip


def test_every_benchmark_is_found_and_names_filter() -> None:
    every = run_all.scripts([])
    assert {p.stem for p in every} >= {"bench_api", "bench_network", "bench_simulate"}
    assert [p.stem for p in run_all.scripts(["network", "bench_api"])] == [
        "bench_api", "bench_network",
    ]  # fmt: skip
    with pytest.raises(SystemExit, match="no benchmark named nope"):
        run_all.scripts(["nope"])
