"""The app factory: ``create_app(platform=None, *, settings=None) -> FastAPI``.

``xborder serve`` runs ``uvicorn --factory xborder.api.app:create_app``: each worker process
builds its own platform from ``XBORDER_DATABASE_URL`` (or the embedded store) and keeps no state
of its own beyond caches; ids come from the store (sequences), rate counts and idempotency
records live in the store, so any number of workers serve one store safely.

Routers: ``routes_*`` (this package), the EPCIS REST bindings (``xborder.api.epcis``, at
``/epcis``) and the web pages (``xborder.web.pages`` at ``/``, static files at ``/static``);
the last two are included when their modules are installed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from xborder.api import problems
from xborder.api.limits import BodyLimit
from xborder.api.routes_declarations import router as declarations
from xborder.api.routes_kpis import router as kpis
from xborder.api.routes_ledger import router as ledger
from xborder.api.routes_orders import router as orders
from xborder.api.routes_parcels import router as parcels
from xborder.api.routes_payments import router as payments
from xborder.api.routes_plans import router as plans
from xborder.api.routes_quotes import router as quotes
from xborder.api.routes_simulations import router as simulations
from xborder.api.routes_tracking import router as tracking
from xborder.api.routes_webhooks import router as webhooks
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform, bootstrap

MIGRATED_ENV = "XBORDER_API_MIGRATED"  # set by ``xborder serve`` once it migrated the store
DESCRIPTION = """The platform as a shared service: every party reaches the record it is
entitled to with its own API key. Errors are RFC 9457 problem details; lists are paged with
opaque cursors; see docs/api.md."""


class Health(BaseModel):
    status: str


health = APIRouter(tags=["meta"])


@health.get("/healthz", response_model=Health, summary="Liveness (no key)")
def get_health() -> Health:
    return Health(status="ok")


def _optional(name: str) -> ModuleType | None:
    """The module, or None when it is not installed (another part of the platform)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def create_app(platform: Platform | None = None, *, settings: ApiSettings | None = None) -> FastAPI:
    """The API over ``platform`` (default: ``bootstrap()`` from the environment)."""
    owned = platform is None
    if platform is None:
        platform = bootstrap(migrate=os.environ.get(MIGRATED_ENV) != "1")
    built = platform

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:  # a platform handed in belongs to the caller
            built.close()

    app = FastAPI(title="xborder", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.platform = platform
    app.state.settings = settings or ApiSettings.from_env()
    problems.install(app)
    app.add_middleware(BodyLimit, settings=app.state.settings)
    for router in (health, orders, payments, quotes, plans, parcels, declarations, tracking,
                   ledger, kpis, simulations, webhooks):  # fmt: skip
        app.include_router(router)
    epcis = _optional("xborder.api.epcis")
    if epcis is not None:
        app.include_router(epcis.router, prefix="/epcis", responses=problems.PROBLEM_RESPONSES)
    pages = _optional("xborder.web.pages")
    if pages is not None:
        app.include_router(pages.router, include_in_schema=False)
        static = Path(str(pages.__file__)).parent / "static"
        if static.is_dir():
            app.mount("/static", StaticFiles(directory=static), name="static")
    return app
