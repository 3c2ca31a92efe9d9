"""Adapters at the edge that are neither the store nor an entry point: the system clock, and
(behind the service ports) the simulated or real partners: carriers, customs, payment."""
