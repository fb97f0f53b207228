"""The third-party images of docker-compose.yml, built here from Debian's packages.

apache/kafka, postgres and prom/prometheus cannot be pulled where the tests run, so
``tests/ops/stack/Containerfile`` builds stand-ins that read the same environment and
volumes: on a local Debian base (``infra.container_image``, the release the Rapport image
uses) that also carries a JRE, PostgreSQL and Prometheus, with Kafka's jars resolved from
Maven Central as ``make run`` resolves them. Grafana has no Debian package; the live test
leaves it to the file checks (tests/ops/test_grafana.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from infra import container_image
from infra.kafka.embedded import resolve_classpath

STACK = Path(__file__).resolve().with_name("stack")
PACKAGES = ("openjdk-17-jre-headless", "postgresql-15", "prometheus", "wget")
SERVICES = ("kafka", "postgres", "prometheus")


def tag(service: str) -> str:
    return f"localhost/rapport-{service}:ops-test"


def build(podman: str) -> dict[str, str]:
    """Each stand-in's tag, by compose service; podman's layer cache makes a rebuild quick."""
    rapport_base = container_image.official_base()
    spec = replace(rapport_base, packages=(*rapport_base.packages, *PACKAGES))
    base = container_image.base_image(podman, spec)
    jars = Path(resolve_classpath().split(":", 1)[0]).parent
    for service in SERVICES:
        container_image.run(
            [
                podman,
                "build",
                f"--file={STACK / 'Containerfile'}",
                f"--build-arg=BASE={base}",
                f"--volume={jars}:/jars:ro",
                f"--target={service}",
                f"--tag={tag(service)}",
                STACK,
            ]
        )
    return {service: tag(service) for service in SERVICES}
