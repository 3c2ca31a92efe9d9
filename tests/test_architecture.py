"""The layering holds: the import-linter contracts are kept, and only the clock adapter reads the
wall clock (every stored time comes from the injected clock)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "xborder"
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"),
              ("datetime", "today")}  # fmt: skip
ALLOWED = {PACKAGE / "adapters" / "clock.py"}


def test_import_linter_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and done.stdout.count("KEPT") >= 5


def _wall_clock_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (name, node.func.attr) in WALL_CLOCK:
                found.append(f"{path.name}:{node.lineno}: {name}.{node.func.attr}()")
    return found


def test_only_the_clock_adapter_reads_the_wall_clock() -> None:
    calls = [c for p in sorted(PACKAGE.rglob("*.py")) if p not in ALLOWED
             for c in _wall_clock_calls(p)]  # fmt: skip
    assert calls == []


def test_the_check_finds_a_wall_clock_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from datetime import datetime\nstamp = datetime.now()\n")
    assert _wall_clock_calls(sample) == ["sample.py:2: datetime.now()"]
