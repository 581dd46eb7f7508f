"""The Control Center's cross graph, from the Katalog alone (no runtime)."""

from pathlib import Path

from orkestra_trio.katalog import load_katalog
from orkestra_trio.web.ui_routes import _edge_json
from orkestra_trio.web.view import cross_edges

PROCESSOR = Path(__file__).parents[2] / "katalogs" / "oncop-processor.yaml"


def test_the_graph_draws_an_autoscale_source_as_its_own_edge():
    crds = load_katalog(PROCESSOR).crds.values()
    edges = [_edge_json(edge) for edge in cross_edges(crds, {})]
    assert [(e["observer"], e["observed"], e["via"], e["remote"]) for e in edges] == [
        ("processor", "loader", "cross", True),
        ("processor", "loader", "autoscale", True),
    ]
    assert all(e["where"] == "http://127.0.0.1:8081" and e["result"] == "none" for e in edges)
