"""Is this Rapport service healthy? Exit 0 if so, 1 if not: the image's HEALTHCHECK.

One probe for every service, so the Dockerfile needs no per-service command: the service
is the one named on the command line or, in a container, the ``python -m services.<name>``
running as PID 1. Ports come from the service's own settings (the same environment), so a
changed port never leaves a stale health check behind. gRPC services must answer the
standard health check with SERVING; HTTP services their ``/healthz``; the orchestrator,
which has no server of its own, its ``/metrics`` endpoint.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.config import ServiceSettings

TIMEOUT_SECONDS = 3.0
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def settings_of(service: str) -> ServiceSettings:
    """The settings of ``services.<service>``, read from the environment as it reads them."""
    module = importlib.import_module(f"services.{service}.config")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and getattr(value, "service_name", None) == service
        ):
            return value()
    raise LookupError(f"services.{service}.config defines no settings for {service!r}")


def probe_target(service: str) -> str:
    """``grpc://host:port`` or ``http://host:port/path``: what proves ``service`` is up."""
    settings = settings_of(service)
    host = "127.0.0.1" if settings.bind_host in WILDCARD_HOSTS else settings.bind_host
    if grpc_port := getattr(settings, "grpc_port", None):
        return f"grpc://{host}:{grpc_port}"
    if http_port := getattr(settings, "http_port", None):
        return f"http://{host}:{http_port}/healthz"
    return f"http://{host}:{settings.metrics_port}/metrics"


def is_healthy(target: str) -> bool:
    """Whether ``target`` (from :func:`probe_target`) answers as a healthy service does."""
    if target.startswith("grpc://"):
        try:
            with grpc.insecure_channel(target.removeprefix("grpc://")) as channel:
                response = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS
                )
        except grpc.RpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
    try:
        with urllib.request.urlopen(target, timeout=TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def container_service(cmdline: Path = Path("/proc/1/cmdline")) -> str:
    """The service PID 1 runs (``python -m services.<name>``), as the image starts it."""
    args = cmdline.read_bytes().decode().split("\0")
    for flag, module in zip(args, args[1:], strict=False):
        if flag == "-m" and module.startswith("services."):
            return module.removeprefix("services.")
    raise LookupError(f"PID 1 is not a Rapport service: {' '.join(args).strip()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.healthcheck", description=__doc__)
    parser.add_argument("service", nargs="?", help="e.g. emotion (default: what PID 1 runs)")
    args = parser.parse_args(argv)
    try:
        target = probe_target(args.service or container_service())
    except (LookupError, ImportError, OSError, ValueError) as error:  # ValueError: bad settings
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    if is_healthy(target):
        return 0
    print(f"unhealthy: {target} did not answer as healthy", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
