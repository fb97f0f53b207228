"""Prometheus' configuration and alert rules, checked and unit-tested by promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from infra import monitoring
from infra.healthcheck import settings_of
from tests.ops.conftest import REPO_ROOT

PROMETHEUS_DIR = REPO_ROOT / "infra" / "prometheus"
SERVICES = sorted(path.parent.name for path in REPO_ROOT.glob("services/*/__main__.py"))


def promtool_run(promtool: str, *args: str) -> str:
    result = subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / name).read_text())
    return loaded


def test_promtool_checks_the_compose_config_and_its_rules(promtool: str) -> None:
    output = promtool_run(promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert "SUCCESS" in output
    alerts = [r for g in load("alerts.yml")["groups"] for r in g["rules"]]
    assert f"SUCCESS: {len(alerts)} rules found" in output


def test_promtool_checks_the_rules(promtool: str) -> None:
    assert "SUCCESS" in promtool_run(promtool, "check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))


def test_promtool_unit_tests_pass(promtool: str) -> None:
    assert "SUCCESS" in promtool_run(
        promtool, "test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml")
    )


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    alerts = {r["alert"] for g in load("alerts.yml")["groups"] for r in g["rules"] if "alert" in r}
    cases = [case for test in load("alerts_test.yml")["tests"] for case in test["alert_rule_test"]]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    assert firing == alerts, f"alerts without a firing test: {sorted(alerts - firing)}"
    tested = {case["alertname"] for case in cases}
    assert tested == alerts


def test_compose_scrapes_every_service_on_its_metrics_port() -> None:
    jobs = {job["job_name"]: job for job in load("prometheus.yml")["scrape_configs"]}
    assert set(jobs) == {"prometheus", *SERVICES}
    for service in SERVICES:
        (discovery,) = jobs[service]["dns_sd_configs"]
        assert discovery["names"] == [service] and discovery["type"] == "A"
        assert discovery["port"] == settings_of(service).metrics_port


def test_make_run_starts_prometheus_from_the_procfile() -> None:
    assert "prometheus: exec python -m infra.monitoring" in (REPO_ROOT / "Procfile").read_text()
    assert set(monitoring.procfile_services()) <= set(SERVICES)
    assert {"emotion", "orchestrator", "web_adapter"} <= set(monitoring.procfile_services())


def test_the_local_config_is_valid_and_targets_the_local_ports(
    promtool: str, tmp_path: Path
) -> None:
    services = monitoring.procfile_services()
    config = monitoring.local_config(monitoring.local_targets(services), "127.0.0.1:19090")
    path = monitoring.write_config(config, tmp_path)
    promtool_run(promtool, "check", "config", str(path))
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets["prometheus"] == ["127.0.0.1:19090"]
    for service in services:
        assert targets[service] == [f"127.0.0.1:{settings_of(service).metrics_port}"]
    assert all("dns_sd_configs" not in job for job in config["scrape_configs"])
    assert config["rule_files"] == [str(PROMETHEUS_DIR / "alerts.yml")]


def test_the_local_prometheus_uses_its_own_config_and_data(tmp_path: Path) -> None:
    command = monitoring.prometheus_command(
        tmp_path / "prometheus.yml", tmp_path / "data", "127.0.0.1:19090", "/usr/bin/prometheus"
    )
    assert f"--config.file={tmp_path / 'prometheus.yml'}" in command
    assert f"--storage.tsdb.path={tmp_path / 'data'}" in command
    assert "--web.listen-address=127.0.0.1:19090" in command
