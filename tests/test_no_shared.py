"""The suite runs on any clone: no test reads outside the repository, vendored data is documented.

A user's clone and CI have no ``../shared`` folder beside the repository, so tests take their data
from ``tests/data/`` (copies of exactly the files they read). This module guards that.

It is a static check: it reads the test sources with ``ast``, it does not trace file access at run
time. What it catches, in every ``tests/**/*.py`` except this file:
- a string naming a ``shared`` folder (``"../shared/x"``, ``"/work/shared"``), or the bare word
  ``"shared"`` used as a path part (``p / "shared"``, ``Path("shared")``);
- a path built from ``__file__`` (``Path(__file__).resolve().parents[2] / ".." / ...``, also through
  module-level names such as ``DATA = ...; DATA / "x"``) that leaves the repository root;
- a ``".."`` path part joined onto any path (``tmp_path / ".."``, ``Path("../x")``);
- absolute file-system paths (``"/home/..."``, ``"~/..."``, ``"C:\\..."``), ``Path.home()`` and
  ``expanduser``, except the explicit allow-list below (system tools, not data).
It does not catch paths assembled at run time from environment variables or computed strings.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
DATA = TESTS / "data"
THIS = Path(__file__).resolve()

# Absolute paths a test may name, each with why. None of them is test data.
ALLOWED_ABSOLUTE = {
    # tests/pg_server.py: where Debian/Ubuntu install the PostgreSQL server binaries
    "/usr/lib/postgresql/*/bin/pg_ctl",
    # browser tests: where Debian installs Chromium (a program the tests drive, not data)
    "/usr/bin/chromium",
}
_FS_ROOTS = (
    "bin|boot|dev|etc|home|lib|lib64|media|mnt|opt|proc|root|run|sbin|srv|sys|tmp|usr|var|"
    "work|Users|Volumes"
)
_ABSOLUTE = re.compile(rf"^(~([/\\]|$)|/({_FS_ROOTS})([/\\]|$)|[A-Za-z]:[/\\])")
_SHARED_PART = re.compile(r"(^|[/\\])shared([/\\]|$)")
_PATH_CALLS = {"Path", "PurePath", "open", "join", "glob", "iglob", "listdir", "scandir"}


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


class _PathEval:
    """Evaluates ``__file__``-anchored path expressions of one module, as far as they are static."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.names: dict[str, Path] = {}

    def eval(self, node: ast.AST) -> Path | None:
        if isinstance(node, ast.Name):
            return self.file if node.id == "__file__" else self.names.get(node.id)
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in {"Path", "PurePath", "abspath", "realpath"} and len(node.args) == 1:
                return self.eval(node.args[0])
            if name == "dirname" and len(node.args) == 1:
                inner = self.eval(node.args[0])
                return None if inner is None else inner.parent
            if isinstance(node.func, ast.Attribute) and name in {"resolve", "absolute"}:
                return self.eval(node.func.value)
            if name in {"joinpath", "join"} and isinstance(node.func, ast.Attribute):
                # p.joinpath("a", "b") or os.path.join(p, "a", "b")
                base_node: ast.expr | None = node.func.value if name == "joinpath" else None
                args = list(node.args)
                if base_node is None and args:
                    base_node, args = args[0], args[1:]
                base = None if base_node is None else self.eval(base_node)
                parts = [a.value for a in args if isinstance(a, ast.Constant)]
                if base is not None and len(parts) == len(args):
                    return base.joinpath(*(str(p) for p in parts))
            return None
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = self.eval(node.value)
            return None if inner is None else inner.parent
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
        ):
            inner = self.eval(node.value.value)
            index = node.slice.value
            if inner is None or not isinstance(index, int):
                return None
            # past the file-system root: certainly outside the repository
            return inner.parents[index] if index < len(inner.parents) else Path("/")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self.eval(node.left)
            if left is not None and isinstance(node.right, ast.Constant):
                return left / str(node.right.value)
        return None


def _inside_root(path: Path) -> bool:
    return Path(os.path.normpath(path)).is_relative_to(ROOT)


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of docstring nodes: prose, checked only for references to a ``shared`` folder."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _path_parts(tree: ast.Module, paths: _PathEval) -> tuple[set[int], set[int]]:
    """ids of the string constants used as a path part (``x / "s"``, ``Path("s")``, ``open("s")``),
    and the subset of them joined onto a path that is not statically known (``tmp_path / ".."``):
    a ``..`` there cannot be checked against the repository root, so it is refused outright."""
    parts: set[int] = set()
    unanchored: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            anchored = paths.eval(node.left) is not None
            for operand in (node.left, node.right):
                if isinstance(operand, ast.Constant):
                    parts.add(id(operand))
                    if not anchored or operand is node.left:
                        unanchored.add(id(operand))
        elif isinstance(node, ast.Call) and _call_name(node) in _PATH_CALLS | {"joinpath"}:
            anchored = paths.eval(node) is not None
            for arg in node.args:
                if isinstance(arg, ast.Constant):
                    parts.add(id(arg))
                    if not anchored:
                        unanchored.add(id(arg))
    return parts, unanchored


def problems(source: str, file: Path) -> list[str]:
    """Every place in ``source`` (the text of ``file``) that reads or may read outside the repo."""
    tree = ast.parse(source, filename=str(file))
    found: list[str] = []
    escaped: set[str] = set()
    docstrings = _docstrings(tree)
    paths = _PathEval(file)
    for stmt in tree.body:  # module-level names bound to a static path, in order
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = paths.eval(stmt.value) if stmt.value is not None else None
            for target in targets:
                if isinstance(target, ast.Name) and value is not None:
                    paths.names[target.id] = value
    parts, unanchored = _path_parts(tree, paths)
    for node in ast.walk(tree):
        where = f"{file.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if _SHARED_PART.search(text) and (id(node) in parts or "/" in text or "\\" in text):
                found.append(f"{where}: names a `shared` folder: {text[:60]!r}")
            elif id(node) in docstrings:
                continue
            elif _ABSOLUTE.match(text) and text not in ALLOWED_ABSOLUTE:
                found.append(f"{where}: absolute path {text[:60]!r}")
            elif id(node) in unanchored and ".." in re.split(r"[/\\]", text):
                found.append(f"{where}: climbs with '..': {text[:60]!r}")
        elif isinstance(node, ast.Call) and _call_name(node) in {"home", "expanduser"}:
            found.append(f"{where}: the user's home directory ({_call_name(node)})")
        else:
            resolved = paths.eval(node) if isinstance(node, ast.expr) else None
            if resolved is not None and not _inside_root(resolved) and where not in escaped:
                escaped.add(where)  # once a line: ast.walk meets the whole expression first
                found.append(f"{where}: path outside the repository: {os.path.normpath(resolved)}")
    return found


def _test_sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.resolve() != THIS and DATA not in p.parents)


def test_there_are_sources_to_check() -> None:
    names = {p.name for p in _test_sources()}
    assert {"conftest.py", "test_event_hash_vectors.py", "test_network_orlib.py"} <= names


@pytest.mark.parametrize("path", _test_sources(), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_test_reads_outside_the_repository(path: Path) -> None:
    assert problems(path.read_text("utf-8"), path.resolve()) == []


# The check itself must be able to fail: each of these is one way a test could leave the repo.
_FAKE = TESTS / "planning" / "test_fake.py"
_BAD = [
    'DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchmarks"',
    'SHARED = Path(__file__).resolve().parents[3] / "standards"',
    'DATA = Path(__file__).parent.parent.parent.parent / "x"',
    'D = Path(__file__).parents[1]\nE = D / ".." / ".." / "y"',
    'x = os.path.join(os.path.dirname(__file__), "..", "..", "..", "z")',
    'text = open("../shared/DESIGN.md").read()',
    'p = Path("/work/shared/standards/epcis")',
    'text = open("../outside.csv").read()',
    'p = Path("/home/me/data.csv")',
    'p = Path("~/data.csv")',
    'p = Path.home() / "data"',
    'p = tmp_path / ".." / "elsewhere"',
    'p = SOMETHING / "shared" / "x"',
]
_GOOD = [
    'DATA = Path(__file__).resolve().parents[1] / "data" / "orlib-cwlp"',
    'DATA = Path(__file__).parent / ".." / "data"',
    'p = tmp_path / "instance.json"',
    'store.load_or_create("../escape")  # a bad key name, not a path',
    '"""Each segment\'s cost is shared equally by its users."""',
    'url = f"postgresql://127.0.0.1:5432/{name}"',
]


@pytest.mark.parametrize("source", _BAD)
def test_the_check_catches(source: str) -> None:
    assert problems(source, _FAKE), source


@pytest.mark.parametrize("source", _GOOD)
def test_the_check_lets_through(source: str) -> None:
    assert problems(source, _FAKE) == []


def _data_folders() -> list[Path]:
    return sorted(p for p in DATA.iterdir() if p.is_dir())


def test_every_data_file_is_in_a_documented_folder() -> None:
    assert _data_folders(), f"no vendored data under {DATA}"
    loose = [p.name for p in DATA.iterdir() if p.is_file()]
    assert loose == []


@pytest.mark.parametrize("folder", _data_folders(), ids=lambda p: p.name)
def test_vendored_folder_readme_names_source_date_and_licence(folder: Path) -> None:
    readme = folder / "README.md"
    assert readme.is_file(), f"{folder.name}: no README.md"
    text = readme.read_text("utf-8")
    assert re.search(r"(?im)^#+ .*\bsource\b|^- source:", text), "no source section"
    assert re.search(r"https?://\S+", text), "the source is not named by address"
    assert re.search(r"(?i)\blicen[cs]e\b", text), "no licence statement"
    assert re.search(r"\b\d{4}-\d{2}-\d{2}\b", text), "no version/copy date"


@pytest.mark.parametrize("folder", _data_folders(), ids=lambda p: p.name)
def test_vendored_files_are_the_listed_unmodified_copies(folder: Path) -> None:
    sums = folder / "SHA256SUMS"
    assert sums.is_file(), f"{folder.name}: no SHA256SUMS"
    listed: dict[str, str] = {}
    for line in sums.read_text("utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name.lstrip("*")] = digest
    present = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in {"README.md", "SHA256SUMS"}
    }
    assert set(listed) == present
    for name, digest in sorted(listed.items()):
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
