"""The metrics catalogue: complete, current, conventional, and the only names queries use."""

from __future__ import annotations

import ast
import difflib
import json
import re
import subprocess

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest

from infra import dashboards
from infra.metrics_catalogue import CATALOGUE, MetricInfo, catalogue, metrics_modules, render
from tests.ops.conftest import REPO_ROOT

METRIC_CLASSES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}
PER_PERSON_LABELS = {
    "customer",
    "customer_id",
    "conversation",
    "conversation_id",
    "visitor",
    "visitor_id",
    "user",
    "user_id",
    "account",
    "account_id",
    "agent",
    "agent_id",
    "phone",
    "email",
    "address",
    "message_id",
    "event_id",
    "text",
}
ALERTS = REPO_ROOT / "infra" / "prometheus" / "alerts.yml"
METRIC_NAME = re.compile(r"\b(rapport_[a-z0-9_]+)")
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")
NON_BASE_UNITS = re.compile(r"_(milli|micro|nano)?(ms|minutes?|hours?|days?|kilobytes|megabytes)\b")
TIMED = re.compile(r"^(time|duration|latency|from .* to )", re.IGNORECASE)
"""Help texts that describe a duration (then the name must end in ``_seconds``)."""

CATALOGUED = catalogue()


def dashboard_queries() -> list[str]:
    return [
        target["expr"]
        for path in sorted(dashboards.DASHBOARDS_DIR.glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]


def alert_queries() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [str(rule["expr"]) for group in groups for rule in group["rules"]]


def test_the_catalogue_covers_shared_and_service_metrics() -> None:
    modules = {info.module for info in CATALOGUED}
    assert "shared.observability.metrics" in modules
    assert {"services.emotion.metrics", "services.orchestrator.metrics"} <= modules
    assert set(metrics_modules()) >= modules
    assert len(CATALOGUED) >= 30


def test_docs_metrics_md_is_generated_from_the_code() -> None:
    expected = render(CATALOGUED)
    current = CATALOGUE.read_text()
    diff = "".join(
        difflib.unified_diff(current.splitlines(True), expected.splitlines(True), "docs", "code")
    )
    assert not diff, f"run `python -m infra.metrics_catalogue`:\n{diff}"


def test_metrics_are_defined_only_in_metrics_modules() -> None:
    allowed = {REPO_ROOT / (module.replace(".", "/") + ".py") for module in metrics_modules()}
    offenders = []
    for root in ("shared", "services", "infra"):
        for path in (REPO_ROOT / root).rglob("*.py"):
            if "gen" in path.relative_to(REPO_ROOT).parts or path in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if name in METRIC_CLASSES:
                        offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert not offenders, f"metrics outside a metrics module (not catalogued): {offenders}"


@pytest.mark.parametrize("info", CATALOGUED, ids=lambda info: info.name)
def test_names_units_and_labels_follow_prometheus_conventions(info: MetricInfo) -> None:
    assert re.fullmatch(r"rapport_[a-z][a-z0-9_]*[a-z0-9]", info.name)
    assert info.help.strip()
    if info.type == "counter":
        assert info.name.endswith("_total")
    else:
        assert not info.name.endswith("_total")
    assert not NON_BASE_UNITS.search(info.name), "times in seconds, sizes in bytes"
    if TIMED.search(info.help):
        assert info.name.endswith("_seconds"), "a duration is named for its unit"
    if info.type == "histogram":
        assert list(info.buckets) == sorted(info.buckets) and len(info.buckets) >= 8
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", label) for label in info.labels)
    assert not PER_PERSON_LABELS & set(info.labels), "a label per person is unbounded"


def test_promtool_accepts_the_exposition(promtool: str) -> None:
    exposition = generate_latest(REGISTRY)
    assert b"# TYPE rapport_kafka_consumer_lag gauge" in exposition
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_dashboards_are_generated_from_infra_dashboards() -> None:
    files = dashboards.rendered()
    assert len(files) == 5
    for path, text in files.items():
        assert path.read_text() == text, f"run `python -m infra.dashboards` ({path.name} is stale)"
    assert set(dashboards.DASHBOARDS_DIR.glob("*.json")) == set(files)


@pytest.mark.parametrize(
    "source,queries", [("dashboards", dashboard_queries()), ("alerts", alert_queries())]
)
def test_queries_use_only_catalogued_metrics(source: str, queries: list[str]) -> None:
    known = {info.name: info.type for info in CATALOGUED}
    assert queries
    unknown = set()
    for query in queries:
        for name in METRIC_NAME.findall(query):
            base = name
            for suffix in HISTOGRAM_SERIES:
                if name.endswith(suffix) and known.get(name.removesuffix(suffix)) == "histogram":
                    base = name.removesuffix(suffix)
            if base not in known:
                unknown.add(name)
    assert not unknown, f"{source} query metrics that no code exports: {sorted(unknown)}"
