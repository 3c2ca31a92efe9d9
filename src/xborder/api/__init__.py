"""The HTTP API: FastAPI routes over the tenant-filtered use cases (``create_app`` in ``app``).

Like the CLI it is an entry point: it imports ``bootstrap``, ``services`` and ``domain`` only;
tenant isolation lives in the service layer (``services/tenancy*.py``), not in the routes.
"""
