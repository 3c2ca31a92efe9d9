"""Reader for Beasley's OR-Library capacitated warehouse location files (cap41..capc).

Format (read as a token stream; lines wrap arbitrarily): ``m n``; m lines ``capacity fixed``;
then per customer ``demand`` followed by m costs of allocating ALL its demand to each warehouse.
In capa/capb/capc the capacity is the literal word ``capacity`` and must be supplied.
Source: J.E. Beasley, OR-Library capinfo (people.brunel.ac.uk/~mastjjb/jeb/orlib/capinfo.html),
EJOR 33 (1988) 314-325; data copy and notes in ../shared/benchmarks/orlib-cwlp/README.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xborder.domain.errors import InvalidValue
from xborder.planning.network.instance import Instance


def parse_orlib(
    text: str, *, capacity: float | None = None, single_source: bool = False, name: str = ""
) -> Instance:
    """Parse the text of an OR-Library file; ``capacity`` replaces the word ``capacity``."""
    tokens = text.split()
    if len(tokens) < 2:
        raise InvalidValue("orlib", "empty file: expected 'm n' first")
    try:
        m, n = int(tokens[0]), int(tokens[1])
    except ValueError:
        raise InvalidValue("orlib", "first line must be 'm n' (two integers)") from None
    if m <= 0 or n <= 0:
        raise InvalidValue("orlib", f"m and n must be positive (got {m} {n})")
    expected = 2 + 2 * m + n * (1 + m)
    if len(tokens) < expected:
        raise InvalidValue("orlib", f"truncated: {len(tokens)} tokens, need {expected}")
    head = tokens[2 : 2 + 2 * m]
    cap_tokens = head[0::2]
    if capacity is not None and capacity < 0:
        raise InvalidValue("capacity", "must not be negative", capacity)
    if any(t.lower() == "capacity" for t in cap_tokens):
        if capacity is None:
            raise InvalidValue("capacity", "this file has the word 'capacity': pass --capacity N")
        cap_tokens = [str(capacity) if t.lower() == "capacity" else t for t in cap_tokens]
    elif capacity is not None:
        cap_tokens = [str(capacity)] * m
    try:
        caps = np.array(cap_tokens, dtype=np.float64)
        fixed = np.array(head[1::2], dtype=np.float64)
        body = np.array(tokens[2 + 2 * m : expected], dtype=np.float64).reshape(n, 1 + m)
    except ValueError as exc:
        raise InvalidValue("orlib", f"not a number: {exc}") from None
    return Instance.of(
        fixed, caps, body[:, 0], body[:, 1:].T.copy(),
        site_ids=[f"w{i + 1}" for i in range(m)], region_ids=[f"c{j + 1}" for j in range(n)],
        single_source=single_source, name=name,
    )  # fmt: skip


def read_orlib(
    path: Path | str, *, capacity: float | None = None, single_source: bool = False
) -> Instance:
    """Read an OR-Library file (see :func:`parse_orlib`)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InvalidValue("file", f"cannot read {p}: {exc.strerror}") from None
    suffix = f"_{capacity:g}" if capacity is not None else ""
    return parse_orlib(text, capacity=capacity, single_source=single_source, name=p.stem + suffix)
