"""Write N generated orders as an import file (CSV, one row per line, or JSON lines).

Used to measure ``xborder orders import`` end to end (fresh and repeated imports, two processes
at once)::

    python benchmarks/make_order_file.py 300000 /tmp/orders.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from xborder.services.world import read_world
from xborder.simulation.order_generator import generate_orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("orders", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    batch = generate_orders(read_world(), args.orders, seed=args.seed)
    orders = batch.orders.drop("line", strict=False)
    lines = batch.lines.drop("line", strict=False).rename({"origin_country": "line_origin_country"})
    rows = orders.join(lines, on="rec", maintain_order="left").drop("rec")
    if args.out.suffix == ".csv":
        rows.write_csv(args.out)
        return
    nested = lines.rename({"line_origin_country": "origin_country"})
    grouped = nested.group_by("rec", maintain_order=True).agg(
        pl.struct(pl.exclude("rec")).alias("lines")
    )
    orders.join(grouped, on="rec").sort("rec").drop("rec").write_ndjson(args.out)


if __name__ == "__main__":
    main()
