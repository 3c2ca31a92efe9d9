"""Shared CLI plumbing: the store's engine, JSON output, errors without tracebacks, progress."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # imported when used: ``xborder --help`` loads no database driver
    from xborder.bootstrap import Platform

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # error messages are never wrapped
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


def platform() -> Platform:
    """The platform on the configured store, migrated (a no-op when current), on the system
    clock: what every command hands its use cases (``platform().uow()``)."""
    from xborder.bootstrap import bootstrap

    return bootstrap()


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time from the command line; one without a UTC offset is refused (it would
    silently mean the host's zone)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO 8601 time: {value!r}")
    if moment.tzinfo is None:
        fail(f"{option}: needs a UTC offset, e.g. {value}+00:00")
    return moment


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    amount = getattr(value, "amount", None)  # Money: its exact decimal amount
    if isinstance(amount, Decimal):
        return str(amount)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


def emit_json(value: Any) -> None:
    typer.echo(dumps(value))


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    result = Table(title=title, show_lines=False)
    if not rows:
        return result
    for key in rows[0]:
        result.add_column(str(key), overflow="fold")
    for row in rows:
        result.add_row(*("" if v is None else str(v) for v in row.values()))
    return result


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar keyed by task description; silent when disabled (``--json``)."""
    if not enabled:
        yield lambda _label, _done, _total: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=errors, transient=True,
    ) as bar:  # fmt: skip
        tasks: dict[str, Any] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield update
