"""Local monitoring for ``make run``: Debian's Prometheus with the compose stack's jobs and alerts.

The local configuration is derived from ``infra/prometheus/prometheus.yml`` (same jobs,
intervals and alert rules) with each job's DNS discovery replaced by the local address of
that service's metrics port, read from the service's own settings. Only the services the
Procfile runs are scraped. Without a ``prometheus`` binary nothing starts, and this process
just waits, so the supervisor does not start it again and again.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from infra.healthcheck import WILDCARD_HOSTS, settings_of

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = REPO_ROOT / "infra" / "prometheus"
COMPOSE_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
PROCFILE = REPO_ROOT / "Procfile"
LOCAL_DIR = REPO_ROOT / "var" / "prometheus"
DEFAULT_ADDRESS = "127.0.0.1:9090"

_PROCFILE_SERVICE = re.compile(r"python -m services\.(\w+)")


def procfile_services(procfile: Path = PROCFILE) -> list[str]:
    """The services ``make run`` starts, in Procfile order."""
    return _PROCFILE_SERVICE.findall(procfile.read_text())


def local_targets(services: Iterable[str]) -> dict[str, str]:
    """Each service's metrics address as its settings (and the environment) say."""
    targets = {}
    for service in services:
        settings = settings_of(service)
        host = "127.0.0.1" if settings.bind_host in WILDCARD_HOSTS else settings.bind_host
        targets[service] = f"{host}:{settings.metrics_port}"
    return targets


def local_config(
    targets: Mapping[str, str],
    prometheus_address: str = DEFAULT_ADDRESS,
    scrape_interval: str | None = None,
) -> dict[str, Any]:
    """The compose configuration with static local targets, for the jobs in ``targets``."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE_CONFIG.read_text())
    jobs = []
    for job in config["scrape_configs"]:
        name = job["job_name"]
        address = prometheus_address if name == "prometheus" else targets.get(name)
        if address is None:
            continue
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": [address]}]
        jobs.append(job)
    config["scrape_configs"] = jobs
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    config["global"]["external_labels"] = {"stack": "rapport-local"}
    if scrape_interval is not None:  # tests scrape every second; a timeout may not exceed it
        for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
            config["global"][key] = scrape_interval
    return config


def write_config(config: Mapping[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def prometheus_command(config: Path, data_dir: Path, address: str, binary: str) -> list[str]:
    """Debian's binary with our own config and data, never its service's (/etc, /var/lib)."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={address}",
        "--storage.tsdb.retention.time=7d",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.monitoring", description=__doc__)
    parser.add_argument("--address", default=DEFAULT_ADDRESS, help="where Prometheus listens")
    parser.add_argument("--dir", type=Path, default=LOCAL_DIR, help="config and data directory")
    args = parser.parse_args(argv)
    binary = shutil.which("prometheus")
    if binary is None:
        print("Prometheus is not installed (apt-get install prometheus): not started", flush=True)
        while True:  # exiting would only make the supervisor restart it
            signal.pause()
    config = write_config(local_config(local_targets(procfile_services()), args.address), args.dir)
    command = prometheus_command(config, args.dir / "data", args.address, binary)
    print(f"Prometheus on http://{args.address}/ with {config}", flush=True)
    os.execv(binary, command)  # the supervisor's signals go straight to Prometheus


if __name__ == "__main__":
    sys.exit(main())
