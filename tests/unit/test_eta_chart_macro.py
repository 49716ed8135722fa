"""The ETA chart macro (`_eta_chart.html`) as the public tracking page will use it: in a bare
Jinja environment (no dashboard filter or global), drawing a well-formed SVG that needs no
script, no stylesheet and no colour, names no event, and has a table of the same points."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from app.core.eta_history import EtaChart, eta_chart, eta_history
from app.dashboard.rendering import environment
from tests.unit.test_eta_history import ARRIVED, JOURNEY

SVG = "{http://www.w3.org/2000/svg}"


def bare_environment() -> Environment:
    return Environment(
        loader=PackageLoader("app.dashboard", "templates"),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
    )


def journey_chart() -> EtaChart:
    chart = eta_chart(eta_history(JOURNEY, actual_arrival=ARRIVED), actual_arrival=ARRIVED)
    assert chart is not None
    return chart


def draw(chart: EtaChart, env: Environment | None = None) -> str:
    macro = (env or bare_environment()).get_template("_eta_chart.html").module.eta_chart  # type: ignore[attr-defined]
    drawn = macro(chart)
    assert isinstance(drawn, Markup)
    return str(drawn)


def test_the_chart_is_a_labelled_image_with_a_title_and_a_description() -> None:
    figure = ET.fromstring(draw(journey_chart()))
    svg = figure.find(f"{SVG}svg")
    assert svg is not None and svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert svg.get("aria-labelledby") == title.get("id")
    assert svg.get("aria-describedby") == desc.get("id")
    assert title.text == "Estimated arrival over time"
    assert desc.text is not None and desc.text.endswith("total slip +2.6 days.")


def test_the_marks_differ_by_shape_line_and_text_not_colour() -> None:
    drawn = draw(journey_chart())
    figure = ET.fromstring(drawn)
    texts = [t.text for t in figure.iter(f"{SVG}text")]
    assert {"original", "revised", "arrived", "slip +2.6 days"} <= set(texts)
    assert len(list(figure.iter(f"{SVG}circle"))) == 1  # the original
    assert len(list(figure.iter(f"{SVG}rect"))) == 3  # each revision
    dashed = [p for p in figure.iter(f"{SVG}path") if p.get("stroke-dasharray")]
    assert len(dashed) == 1  # the revisions' steps; the original's line is solid
    colours = set(re.findall(r'(?:stroke|fill)="([^"]+)"', drawn))
    assert colours <= {"currentColor", "none"}


def test_the_table_beside_it_holds_the_same_points_without_event_ids() -> None:
    chart = journey_chart()
    figure = ET.fromstring(draw(chart))
    rows = figure.findall("./table/tbody/tr")
    assert [[cell.text or "".join(cell.itertext()) for cell in row] for row in rows] == [
        [mark.kind, mark.estimate, "—" if mark.kind == "arrived" else mark.reported]
        for mark in chart.marks
    ]
    foot = figure.find("./table/tfoot/tr")
    assert foot is not None and "".join(foot.itertext()) == "Total slip+2.6 days"


def test_nothing_internal_nothing_active() -> None:
    for env in (bare_environment(), environment(temporal_ui_url="", namespace="default")):
        drawn = draw(journey_chart(), env)
        assert not any(report.event_id in drawn for report in JOURNEY)
        assert "<script" not in drawn and "<style" not in drawn and "style=" not in drawn
        assert not re.search(r"\son\w+=", drawn)  # no event handler
        assert "href" not in drawn  # no link, no image
        assert re.findall(r"https?://[^\"]+", drawn) == ["http://www.w3.org/2000/svg"]


def test_a_single_estimate_draws_without_a_revision_line() -> None:
    chart = eta_chart(eta_history(JOURNEY[:1], actual_arrival=None), actual_arrival=None)
    assert chart is not None
    figure = ET.fromstring(draw(chart))
    assert not [p for p in figure.iter(f"{SVG}path") if p.get("stroke-dasharray")]
    assert len(figure.findall("./table/tbody/tr")) == 1
