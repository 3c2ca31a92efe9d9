"""The planner's cost of serving a unit by an option, in columnar form.

cost = freight (the lane's rate card on chargeable weight: per kg + per parcel, not below the
minimum) + handling at the source + last mile (per parcel + per kg) + duties and taxes (a pluggable
hook: the customs engine fills it; without it the term is zero) + a lateness penalty per expected
day late against the promise. Transit is lognormal, fitted to the lane's mean and 95th percentile;
waiting for the lane's next departure (departure weekdays, cut-off time) adds to it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

Z95 = 1.6448536269514722  # standard normal 95th percentile

# duties(unit indices, route index) -> duties and taxes per unit in the plan currency
DutiesHook = Callable[[I64, int], F64]


def _phi(x: F64) -> F64:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7): numpy has no erf."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return np.asarray(0.5 * (1.0 + np.sign(x) * erf), dtype=np.float64)


def lognormal_params(mean: float, p95: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and 95th percentile (p95 >= mean > 0).

    Solves mu + sigma^2/2 = ln mean and mu + 1.645 sigma = ln p95 for the smaller root; when p95 is
    too far above the mean for a lognormal, the largest feasible spread (sigma = 1.645) is used.
    """
    if p95 <= mean:
        return float(np.log(mean)), 0.0
    b = np.log(p95 / mean)  # = 1.645 sigma - sigma^2 / 2
    disc = Z95 * Z95 - 2.0 * b
    sigma = Z95 - np.sqrt(disc) if disc > 0 else Z95
    return float(np.log(mean) - sigma * sigma / 2.0), float(sigma)


def expected_lateness(mean: float, p95: float | None, slack: F64) -> F64:
    """E[max(0, T - slack)] in days for transit T (lognormal from mean and p95; fixed if no p95)."""
    slack = np.asarray(slack, dtype=np.float64)
    if p95 is None or p95 <= mean:
        return np.maximum(0.0, mean - slack)
    mu, sigma = lognormal_params(mean, p95)
    out = np.full(slack.shape, mean, dtype=np.float64) - np.minimum(slack, 0.0)
    pos = slack > 0
    a = slack[pos]
    d2 = (mu - np.log(a)) / sigma
    out[pos] = mean * _phi(d2 + sigma) - a * _phi(d2)
    return np.maximum(out, 0.0)


def departure_wait(
    ready_day: I64, ready_minute: I64, weekdays: NDArray[np.bool_], cutoff_minute: int
) -> I64:
    """Days from the ready day to the lane's next departure the unit can make.

    ``ready_day`` counts days since a Monday (so ``% 7`` is the weekday, Mon = 0); a unit ready
    after the cut-off on a departure day waits for the next departure day.
    """
    wait = np.full(ready_day.shape, -1, dtype=np.int64)
    for d in range(8):
        departs = weekdays[(ready_day + d) % 7]
        if d == 0:
            departs = departs & (ready_minute <= cutoff_minute)
        take = (wait < 0) & departs
        wait[take] = d
    return wait


def freight(weight: F64, per_kg: float, per_parcel: float, minimum: float = 0.0) -> F64:
    """The lane rate card on chargeable weight: per kg plus per parcel, not below the minimum."""
    return np.maximum(per_kg * weight + per_parcel, minimum)
