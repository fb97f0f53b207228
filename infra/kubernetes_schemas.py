"""Write the JSON schemas kubeconform checks the Helm chart against, offline.

kubeconform downloads its schemas from GitHub by default, which the tests cannot reach.
The schemas are made here instead, once, from sources the Go module proxy serves with
checksums: the Kubernetes OpenAPI document inside the ``k8s.io/kubernetes`` module and
the ServiceMonitor CRD inside ``github.com/prometheus-operator/prometheus-operator``.
Only the kinds the chart renders are written, in kubeconform's strict standalone layout
(``tests/ops/kubernetes-schemas/``): each file holds its kind and the definitions it
reaches, every object refuses unknown fields, descriptions are dropped to keep them small.

    python -m infra.kubernetes_schemas   # after changing KUBERNETES or KINDS
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "tests" / "ops" / "kubernetes-schemas"
KUBERNETES = "1.30.14"
PROMETHEUS_OPERATOR = "v0.85.0"
SERVICE_MONITOR_CRD = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
# (group, version, kind) of everything the chart can render.
KINDS = (
    ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"),
    ("", "v1", "Service"),
    ("", "v1", "PersistentVolumeClaim"),
    ("apps", "v1", "Deployment"),
    ("batch", "v1", "Job"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("policy", "v1", "PodDisruptionBudget"),
    ("networking.k8s.io", "v1", "NetworkPolicy"),
    ("networking.k8s.io", "v1", "Ingress"),
)
INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
# Quantities are strings in the API, but "cpu: 1" in YAML is a number and is accepted.
QUANTITY = {"oneOf": [{"type": "string"}, {"type": "number"}]}
DEFINITIONS = "#/definitions/"


def module_dir(module: str, version: str) -> Path:
    """Where the Go module proxy's copy of ``module@version`` is unpacked (downloaded once)."""
    with tempfile.TemporaryDirectory() as outside_any_module:
        listed = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=outside_any_module,
            capture_output=True,
            text=True,
            check=True,
        )
    return Path(json.loads(listed.stdout)["Dir"])


def strict(schema: Any) -> Any:
    """``schema`` without descriptions, refusing unknown fields, int-or-string spelled out."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("format") == "int-or-string" or schema.get("x-kubernetes-int-or-string"):
        return dict(INT_OR_STRING)
    converted = {
        key: strict(value)
        for key, value in schema.items()
        if key != "description" and not key.startswith("x-kubernetes-")
    }
    if "properties" in schema:
        # The property names themselves are keys, not schemas: keep them all.
        converted["properties"] = {
            name: strict(value) for name, value in schema["properties"].items()
        }
        if "additionalProperties" not in schema and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            converted["additionalProperties"] = False
    return converted


def references(schema: Any) -> set[str]:
    """The definition names ``schema`` refers to directly."""
    if isinstance(schema, list):
        return set().union(*(references(item) for item in schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = {schema["$ref"].removeprefix(DEFINITIONS)} if "$ref" in schema else set()
    return found.union(*(references(value) for value in schema.values()))


def kind_schema(definitions: dict[str, Any], group: str, version: str, kind: str) -> Any:
    """One kind's schema with every definition it reaches, ready for kubeconform."""
    (name,) = (
        name
        for name, definition in definitions.items()
        if {"group": group, "version": version, "kind": kind}
        in definition.get("x-kubernetes-group-version-kind", [])
    )
    reached: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current not in reached:
            reached.add(current)
            pending.extend(references(definitions[current]))
    special = {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
        "io.k8s.apimachinery.pkg.api.resource.Quantity": QUANTITY,
    }
    schema = strict(definitions[name])
    schema["definitions"] = {
        each: special.get(each) or strict(definitions[each]) for each in sorted(reached - {name})
    }
    return schema


def file_name(group: str, version: str, kind: str) -> str:
    """kubeconform's name for a kind's file: deployment-apps-v1.json, service-v1.json."""
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def write(path: Path, schema: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


def main() -> None:
    swagger = module_dir("k8s.io/kubernetes", f"v{KUBERNETES}") / "api/openapi-spec/swagger.json"
    definitions = json.loads(swagger.read_text())["definitions"]
    standalone = OUT_DIR / f"v{KUBERNETES}-standalone-strict"
    for group, version, kind in KINDS:
        write(
            standalone / file_name(group, version, kind),
            kind_schema(definitions, *(group, version, kind)),
        )
    crd = yaml.safe_load(
        (
            module_dir("github.com/prometheus-operator/prometheus-operator", PROMETHEUS_OPERATOR)
            / SERVICE_MONITOR_CRD
        ).read_text()
    )
    for served in crd["spec"]["versions"]:
        write(
            OUT_DIR / "crds" / crd["spec"]["group"] / f"servicemonitor_{served['name']}.json",
            strict(served["schema"]["openAPIV3Schema"]),
        )


if __name__ == "__main__":
    main()
