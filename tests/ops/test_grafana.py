"""Grafana's provisioning: the datasource the dashboards name, the folder compose mounts,
and dashboards Grafana can lay out (unique ids, panels that do not overlap)."""

from __future__ import annotations

import json
from itertools import combinations
from typing import Any

import pytest
import yaml

from infra import dashboards
from tests.ops.conftest import REPO_ROOT

PROVISIONING = REPO_ROOT / "infra" / "grafana" / "provisioning"
TITLES = {"Overview", "Channels", "Empathy KPIs", "Handoff", "Models"}
MODELS = {p.name: json.loads(p.read_text()) for p in dashboards.DASHBOARDS_DIR.glob("*.json")}


def compose_grafana() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return dict(spec["services"]["grafana"])


def test_the_five_dashboards_exist() -> None:
    assert {model["title"].removeprefix("Rapport / ") for model in MODELS.values()} == TITLES
    assert len({model["uid"] for model in MODELS.values()}) == len(MODELS)


def test_the_datasource_is_compose_prometheus_under_the_uid_the_panels_use() -> None:
    config = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = config["datasources"]
    assert source["uid"] == dashboards.DATASOURCE["uid"] and source["type"] == "prometheus"
    prometheus = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    assert "prometheus" in prometheus
    assert source["url"] == "http://prometheus:9090"
    for model in MODELS.values():
        for panel in model["panels"]:
            assert panel["datasource"] == dashboards.DATASOURCE
            assert all(t["datasource"] == dashboards.DATASOURCE for t in panel["targets"])


def test_the_provider_reads_the_folder_compose_mounts() -> None:
    config = yaml.safe_load((PROVISIONING / "dashboards" / "rapport.yml").read_text())
    (provider,) = config["providers"]
    mounts = dict(volume.split(":")[:2][::-1] for volume in compose_grafana()["volumes"])
    assert mounts[provider["options"]["path"]] == "./infra/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./infra/grafana/provisioning"
    home = compose_grafana()["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.removeprefix(provider["options"]["path"] + "/") in MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_panels_have_unique_ids_queries_and_do_not_overlap(name: str) -> None:
    panels = MODELS[name]["panels"]
    assert panels and len({p["id"] for p in panels}) == len(panels)
    assert all(p["targets"] and all(t["expr"].strip() for t in p["targets"]) for p in panels)

    def cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
        grid = panel["gridPos"]
        return {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }

    for first, second in combinations(panels, 2):
        assert not cells(first) & cells(second), (first["title"], second["title"])
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels)
