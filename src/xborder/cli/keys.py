"""``xborder keys``: per-party API keys. The token is printed once, at creation; the store keeps
only its argon2id hash, so a lost token means a new key (and revoking the old one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, errors, fail, platform, table
from xborder.domain.errors import DomainError

if TYPE_CHECKING:
    from rich.table import Table

    from xborder.services.api_keys import KeyInfo

app = typer.Typer(help="Per-party API keys: create, list, revoke.", no_args_is_help=True)

ROLES = "operator, seller, platform, carrier, warehouse, broker, payment_provider"


def _json(key: KeyInfo) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "party_id": key.party_id,
        "role": key.role.value,
        "scopes": sorted(key.scopes),
        "label": key.label,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "active": key.active,
    }


def _key_table(keys: list[KeyInfo]) -> Table:
    """One row per key within 80 columns: ids, roles and states whole, a long label cut."""
    from rich import box
    from rich.table import Table

    rows = [
        (k.key_id, k.party_id, k.role.value, str(len(k.scopes)),
         "active" if k.active else "revoked", k.label or "")
        for k in keys
    ]  # fmt: skip
    result = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, name in enumerate(("key", "party", "role", "scopes", "state")):
        widest = max(len(name), *(len(r[i]) for r in rows))
        result.add_column(name, no_wrap=True, min_width=widest)
    result.add_column("label", no_wrap=True, overflow="ellipsis")
    for row in rows:
        result.add_row(*row)
    return result


def _key_blocks(keys: list[KeyInfo]) -> None:
    """``--verbose``: each key with its dates and every scope, wrapped at the console width."""
    for k in keys:
        state = "active" if k.revoked_at is None else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
        label = f"  {k.label}" if k.label else ""
        created = f"created {k.created_at:%Y-%m-%d %H:%M}"
        head = f"[bold]{k.key_id}[/]  {k.party_id}  {k.role.value}  {state}  {created}{label}"
        console.print(head, highlight=False)
        console.print(f"  scopes: {' '.join(sorted(k.scopes))}", highlight=False)


@app.command("create")
def create(
    party: str = typer.Argument(..., help="The party's id in the world (operator keys: operator)."),
    role: str = typer.Option(..., "--role", help=f"The key's role: {ROLES}."),
    scope: list[str] | None = typer.Option(
        None, "--scope", help="A scope to grant (repeat; default: the role's usual scopes)."
    ),
    label: str | None = typer.Option(None, "--label", help="A note: what the key is for."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a key for PARTY and print its token, once."""
    from xborder.services.api_keys import CreateKey, create_key

    scopes = frozenset(scope) if scope else None
    try:
        key = create_key(platform().uow(), CreateKey(party, role, scopes, label))
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"key_id": key.key_id, "token": key.token, "party_id": key.party_id,
                   "role": key.role.value, "scopes": sorted(key.scopes), "label": key.label,
                   "created_at": key.created_at})  # fmt: skip
        return
    console.print(table([{"key": key.key_id, "party": key.party_id, "role": key.role.value,
                          "label": key.label or ""}]))  # fmt: skip
    console.print(f"scopes: {', '.join(sorted(key.scopes))}", highlight=False)
    errors.print("[bold yellow]Store this token now: it is not shown again.[/]", highlight=False)
    typer.echo(key.token)  # plain, unwrapped, on its own line: easy to copy or pipe


@app.command("list")
def list_(
    party: str | None = typer.Option(None, "--party", help="Only this party's keys."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every scope."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every key, oldest first, revoked ones included (never a token)."""
    from xborder.services.api_keys import ListKeys, list_keys

    keys = list_keys(platform().uow(), ListKeys(party))
    if as_json:
        emit_json([_json(k) for k in keys])
        return
    if not keys:
        console.print("no API keys yet (create one: xborder keys create PARTY --role ROLE)")
        return
    if verbose:
        _key_blocks(keys)
    else:
        console.print(_key_table(keys))


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (as `keys list` shows it)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Refuse the key from now on, on every worker (revoking again changes nothing)."""
    from xborder.services.api_keys import RevokeKey, revoke_key

    try:
        key = revoke_key(platform().uow(), RevokeKey(key_id))
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        emit_json(_json(key))
        return
    assert key.revoked_at is not None
    console.print(
        f"key {key.key_id} of {key.party_id} revoked at "
        f"{key.revoked_at.isoformat(timespec='seconds')}",
        highlight=False,
    )
