"""The one test lists and figures across the plant apply for a caller with viewer grants on parts of it."""

from __future__ import annotations

from werk.core.sight import Sight

LINE1 = "acme/augsburg/machining/line-1"
ASSETS = {
    "cnc-1": f"{LINE1}/cell-a/cnc-1",
    "press-1": "acme/augsburg/assembly/line-2/cell-b/press-1",
    "cnc-10": "acme/augsburg/machining/line-10/cell-c/cnc-10",
}


def test_a_grant_on_a_line_covers_the_line_and_what_is_under_it_not_a_line_sharing_its_prefix() -> None:
    s = Sight([LINE1], ASSETS)
    assert s.covers(LINE1) and s.covers(f"{LINE1}/cell-a")
    assert not s.covers("acme/augsburg/machining/line-10")
    assert s.asset("cnc-1") and not s.asset("cnc-10") and not s.asset("press-1") and not s.asset("nobody")
    assert not s.asset(None)


def test_aggregates_need_the_whole_node_and_the_plant_is_never_covered_by_a_part() -> None:
    s = Sight([LINE1], ASSETS)
    assert s.aggregate("asset", "cnc-1") and not s.aggregate("asset", "press-1")
    assert s.aggregate("line", LINE1)
    assert not s.aggregate("area", "acme/augsburg/machining")
    assert not s.aggregate("site", "acme/augsburg") and not s.aggregate("plant", "plant")


def test_the_nodes_on_the_way_to_a_grant_lead_to_it_the_others_do_not() -> None:
    s = Sight([LINE1], ASSETS)
    assert s.leads_to("acme/augsburg") and s.leads_to("acme/augsburg/machining") and s.leads_to("")
    assert not s.leads_to("acme/augsburg/assembly") and not s.leads_to("acme/augsburg/machining/line-10")
    assert not Sight([], ASSETS).leads_to("")


def test_mappings_keep_the_assets_and_whole_nodes_seen() -> None:
    s = Sight([LINE1], ASSETS)
    assert s.keyed({"cnc-1": 1, "press-1": 2, "cnc-10": 3}) == {"cnc-1": 1}
    assert s.nodes({LINE1: 1, "acme/augsburg/assembly/line-2": 2}) == {LINE1: 1}
