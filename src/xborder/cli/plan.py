"""``xborder plan``: fulfilment planning, consolidation and network design.

Each planning module defines its command functions; they are registered here.
"""

from __future__ import annotations

import typer

from xborder.cli.plan_fulfil import consolidate, fulfil
from xborder.cli.plan_network import network

app = typer.Typer(help="Plan fulfilment, consolidation and the warehouse network.",
                  no_args_is_help=True)  # fmt: skip
app.command("network")(network)
app.command("fulfil")(fulfil)
app.command("consolidate")(consolidate)
