#!/usr/bin/env bash
# One entry point for a fresh machine: sets up what is missing, then runs the job.
#   bash dev.sh demo [xborder demo options]   venv + package, then the demo on the embedded store
#   bash dev.sh test [pytest options]         venv + package + PostgreSQL binaries, then the tests
#   bash dev.sh lint                          ruff, mypy and the import-linter contracts
#   bash dev.sh bench NAME [options]          python benchmarks/bench_NAME.py
#   bash dev.sh bench all [--quick] [NAMES]   every benchmark (run_all.py): a summary table,
#                                             non-zero exit if one failed or left temp files
set -euo pipefail
cd "$(dirname "$0")"

python_bin() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "xborder needs Python 3.11 or newer" >&2; return 1
}

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$(python_bin)" -m venv .venv
  fi
  local stamp=.venv/.xborder-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$stamp"
  fi
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_postgres() {
  if command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
    return 0
  fi
  echo "Installing the PostgreSQL server (Debian package)..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

ensure_chromium() {
  # The report test opens the HTML report in a real headless Chromium (the Debian package).
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  echo "Installing Chromium (Debian package) for the report's browser test..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

command="${1:-}"; shift || true
case "$command" in
  demo)  setup; exec .venv/bin/xborder demo "$@" ;;
  test)  setup; ensure_postgres; ensure_chromium; exec .venv/bin/python -m pytest "$@" ;;
  lint)  setup; .venv/bin/ruff check src tests benchmarks; .venv/bin/ruff format --check src tests benchmarks; .venv/bin/mypy; exec .venv/bin/lint-imports ;;
  bench)
    setup; ensure_postgres; name="${1:?bench needs a name (or all)}"; shift
    if [ "$name" = all ]; then exec .venv/bin/python benchmarks/run_all.py "$@"; fi
    exec .venv/bin/python "benchmarks/bench_${name}.py" "$@" ;;
  *) echo "usage: bash dev.sh {demo|test|lint|bench NAME|bench all [--quick]} [options]" >&2; exit 2 ;;
esac
