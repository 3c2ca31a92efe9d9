"""Consolidation: parcels of one lane departure packed into master bags or containers.

First-fit decreasing on the binding dimension (the larger of weight and volume share): FFD uses at
most 11/9 OPT + 6/9 bins (Dósa 2007) in one dimension. Identifiers:
- SSCC (GS1 General Specifications v24.0, section 2.2.1 / 3.3.1, AI 00): extension digit + GS1
  company prefix + serial reference = 17 digits, then the GS1 mod-10 check digit (section 7.9.1).
  ``GS1_COMPANY_PREFIX`` is GS1's documentation example prefix 0614141 (not a real allocation;
  operators configure their own).
- Master air waybill numbers (IATA Resolution 600a, valid 2024): 3-digit airline prefix + 7-digit
  serial + check digit = serial mod 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from xborder.domain.errors import InvalidValue
from xborder.domain.identifiers import GS1_COMPANY_PREFIX, gs1_check_digit, sscc, sscc_valid

__all__ = ["GS1_COMPANY_PREFIX", "gs1_check_digit", "sscc", "sscc_valid"]  # one implementation
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Limits:
    """A master consignment's limits (operator policy, see ``DEFAULT_LIMITS``)."""

    kind: str
    max_kg: float
    max_cm3: float


# Operator defaults (policy, not regulation): air/postal/express master bags as carriers accept
# them (30 kg, 0.25 m3); sea and rail: a 20-ft dry container (ISO 668 1CC, 2020 edition: internal
# ~33.2 m3; payload ~28,200 kg = 30,480 kg max gross - typical 2,280 kg tare), both checked 2026-11.
DEFAULT_LIMITS = {
    "air": Limits("bag", 30.0, 250_000.0),
    "express": Limits("bag", 30.0, 250_000.0),
    "postal": Limits("bag", 30.0, 250_000.0),
    "dedicated_line": Limits("bag", 30.0, 250_000.0),
    "sea": Limits("container", 28_200.0, 33_200_000.0),
    "rail": Limits("container", 28_200.0, 33_200_000.0),
}


# A parcel too big for a bag rides on a pallet: the IATA PMC (P6P, 96 x 125 in) ULD's maximum gross
# weight is 6,804 kg (IATA ULD Regulations, 2024 edition); ~10 m3 is its lower-deck contour volume
# (approximate, contour-dependent). Sea and rail parcels always fit the container.
OVERSIZE_LIMITS = Limits("uld", 6_804.0, 10_000_000.0)


def awb_number(prefix: int, serial: int) -> str:
    """An IATA air waybill number ``PPP-SSSSSSSC`` (C = serial mod 7)."""
    if not 0 <= prefix <= 999 or not 0 <= serial < 10**7:
        raise InvalidValue("awb", "prefix must be 3 digits and serial 7", (prefix, serial))
    return f"{prefix:03d}-{serial:07d}{serial % 7}"


def first_fit_decreasing(weight: F64, volume: F64, limits: Limits) -> I64:
    """Bin of each parcel; no bin exceeds either limit. Parcels over a limit on their own raise."""
    if (weight > limits.max_kg).any() or (volume > limits.max_cm3).any():
        raise InvalidValue(
            "parcel", f"exceeds the {limits.kind} limits ({limits.max_kg} kg, {limits.max_cm3} cm3)"
        )
    size = np.maximum(weight / limits.max_kg, volume / limits.max_cm3)
    order = np.argsort(-size, kind="stable")
    load_w = np.zeros(max(weight.size, 1))
    load_v = np.zeros(max(weight.size, 1))
    used = 0
    out = np.empty(weight.size, dtype=np.int64)
    for i in order.tolist():  # the bins are arrays, the search for the first fit is vectorised
        fits = np.flatnonzero(
            (load_w[:used] + weight[i] <= limits.max_kg + 1e-9)
            & (load_v[:used] + volume[i] <= limits.max_cm3 + 1e-6)
        )
        b = int(fits[0]) if fits.size else used
        if b == used:
            used += 1
        load_w[b] += weight[i]
        load_v[b] += volume[i]
        out[i] = b
    return out


def fill_rates(weight: F64, volume: F64, bins: I64, limits: Limits) -> F64:
    """Per bin: the binding dimension's fill (max of weight and volume utilisation)."""
    n = int(bins.max()) + 1 if bins.size else 0
    w = np.bincount(bins, weights=weight, minlength=n) / limits.max_kg
    v = np.bincount(bins, weights=volume, minlength=n) / limits.max_cm3
    return np.maximum(w, v)
