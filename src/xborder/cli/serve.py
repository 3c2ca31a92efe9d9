"""``xborder serve``: the HTTP API (and the web pages) under uvicorn.

The store is migrated once here, before the workers start, so that several workers never race
to migrate it; each worker then builds its own platform (``create_app`` is a factory) on the
same store: the embedded SQLite file by default, PostgreSQL with ``XBORDER_DATABASE_URL``.
"""

from __future__ import annotations

import os

import typer

from xborder.cli.common import console, fail, platform

APP_FACTORY = "xborder.api.app:create_app"
MIGRATED_ENV = "XBORDER_API_MIGRATED"  # read by create_app: the workers skip the migration


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
    reload: bool = typer.Option(False, "--reload", help="Restart on code changes (one worker)."),
    access_log: bool = typer.Option(
        True, "--access-log/--no-access-log", help="Log one line per request to the console."
    ),
) -> None:
    """Serve the HTTP API and the web pages (OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    if reload and workers > 1:
        fail("--reload runs one worker; drop --workers or --reload")
    store = platform()  # migrates the store (a no-op when it is current)
    where = store.url
    store.close()
    os.environ[MIGRATED_ENV] = "1"
    console.print(f"xborder API on http://{host}:{port} ({workers} worker(s)); store {where}")
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers,
                reload=reload, proxy_headers=False, access_log=access_log)  # fmt: skip
