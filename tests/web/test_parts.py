"""The pieces of the web UI on their own: languages, number formats, the map's decoding."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from importlib import resources

import numpy as np

from xborder.domain.money import Money
from xborder.services.network_view import LaneMark, Network, WarehouseMark
from xborder.trace.lifecycle import LIFECYCLE
from xborder.web import format as fmt
from xborder.web.i18n import (
    EN,
    STEPS_ZH,
    ZH,
    choose_language,
    parse_accept_language,
    switch_url,
    translator,
)
from xborder.web.map import Frame, countries, decode_arcs, render_map, ring_coordinates, topology

HOSTILE = "<script>alert(1)</script>"


def test_both_languages_have_every_string_and_every_step() -> None:
    assert EN.keys() == ZH.keys()
    assert {v.label for v in LIFECYCLE.values()} == STEPS_ZH.keys()
    assert translator("zh")("track.timeline") == "物流轨迹"
    assert translator("xx")("track.timeline") == "Timeline"
    assert translator("en")("no.such.key") == "no.such.key"


def test_language_choice() -> None:
    assert parse_accept_language("fr-FR, zh-CN;q=0.8, en;q=0.5") == "zh"
    assert parse_accept_language("en;q=0.2, zh;q=0.9") == "zh"
    assert parse_accept_language("zh;q=0, en") == "en"
    assert parse_accept_language("fr, de") is None
    assert choose_language("ZH", "en") == "zh"
    assert choose_language("klingon", "zh-TW") == "zh"
    assert choose_language(None, None) == "en"
    assert switch_url("/track/X", "postcode=1+2&lang=en", "en") == "/track/X?postcode=1+2&lang=zh"


def test_formats() -> None:
    assert fmt.money(Money(Decimal("1234567.8"), "CNY")) == "1,234,567.8 CNY"
    assert fmt.money(Money.from_minor(-123456, "JPY")) == "-123,456 JPY"
    assert fmt.kpi("on_time_rate", 0.9123) == "91.2%"
    assert fmt.kpi("orders", 12345) == "12,345"
    assert fmt.kpi("loss_rate", None) == fmt.DASH
    spark = fmt.sparkline([1.0, None, 3.0, 2.0], HOSTILE)
    assert "<polyline" in spark and HOSTILE not in spark
    assert "<polyline" not in fmt.sparkline([None, 1.0], "x")


def test_the_vendored_atlas_is_the_one_its_source_names() -> None:
    folder = resources.files("xborder.web").joinpath("static", "world")
    digest = hashlib.sha256(folder.joinpath("countries-110m.json").read_bytes()).hexdigest()
    assert digest in folder.joinpath("SOURCE.md").read_text(encoding="utf-8")


def test_arcs_decode_by_the_topojson_rules() -> None:
    topo = topology()
    arcs = decode_arcs(topo)
    scale, translate = topo["transform"]["scale"], topo["transform"]["translate"]
    raw = np.asarray(topo["arcs"][5], dtype=np.float64)
    assert np.allclose(arcs[5][0], raw[0] * scale + translate)
    assert np.allclose(arcs[5][-1], raw.sum(axis=0) * scale + translate)  # deltas summed
    assert (np.abs(np.concatenate(arcs)[:, 0]) <= 180 + 1e-9).all()
    # a reversed arc (~i) runs backwards, and consecutive arcs share their joint once
    ring = ring_coordinates([5, ~5], arcs)
    assert len(ring) == 2 * len(arcs[5]) - 1 and np.allclose(ring[0], ring[-1])


def test_countries_sit_where_they_are() -> None:
    found = {c.name: c for c in countries()}
    assert len(found) >= 170
    lon, lat = found["China"].centroid  # type: ignore[misc]
    assert 95 < lon < 120 and 25 < lat < 42
    lon, lat = found["Brazil"].centroid  # type: ignore[misc]
    assert -60 < lon < -40 and -20 < lat < 0
    frame = Frame()
    x, _ = frame.point(150.0, 0.0)
    assert abs(x - frame.width / 2) < 1e-9  # the central meridian is the middle


def test_the_map_draws_marks_and_escapes_names() -> None:
    network = Network(
        [WarehouseMark("w1", HOSTILE, "overseas", "DE", 12.4, 51.3),
         WarehouseMark("w2", "nowhere", "domestic", "CN", None, None)],
        [LaneMark("l1", HOSTILE, "rail", "DE", (113.8, 34.7), (10.0, 53.5), "276"),
         LaneMark("l2", "by country", "air", "US", (113.8, 22.6), None, "840"),
         LaneMark("l3", "unplaced", "air", "XX", None, None, None)],
    )  # fmt: skip
    svg = render_map(network, title=HOSTILE)
    assert HOSTILE not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="warehouse kind-overseas"') == 1
    assert svg.count('class="lane ') == 2  # the unplaced lane is left out
    assert svg.startswith("<svg") and svg.endswith("</svg>")
