"""The web UI: server-rendered pages (Jinja2) over the use cases, working offline.

``xborder.web.pages.router`` is mounted at ``/`` by the API app (``xborder.api.app``), with the
vendored static files of ``static/`` at ``/static``. Nothing is fetched from another origin: no
CDN, no web fonts, no tiles; the map is drawn on the server (``xborder.web.map``).
"""
