"""The Helm chart (infra/helm/rapport), linted, rendered and checked without a cluster.

helm and kubeconform are built from the Go module proxy at the versions
infra/k8s_tools/go.mod pins. Every manifest rendered from the default values and from the
production example is validated by kubeconform in strict mode against the Kubernetes
schemas vendored in tests/ops/kubernetes-schemas (``python -m infra.kubernetes_schemas``
writes them); the checks below then hold the rendered objects to Rapport's own rules and
to what the services' code really reads (their settings classes), as test_compose does
for docker-compose.yml.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.container_image import run
from infra.healthcheck import settings_of
from infra.kubernetes_schemas import KUBERNETES
from services.orchestrator.knowledge.articles import article_files, read_folder
from shared.config import GrpcServerSettings, MediaSettings
from tests.ops.conftest import REPO_ROOT, built_once, require_tool

# The first run builds helm (several minutes on two cores); later runs use the cache.
pytestmark = pytest.mark.timeout(1800)

K8S_TOOLS = REPO_ROOT / "infra" / "k8s_tools"
CHART = REPO_ROOT / "infra" / "helm" / "rapport"
PRODUCTION = CHART / "values-production.example.yaml"
DEMO_KNOWLEDGE = REPO_ROOT / "knowledge"
SCHEMAS = Path(__file__).resolve().parent / "kubernetes-schemas"
SCHEMA_LOCATIONS = (
    f"{SCHEMAS}/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}"
    "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
    f"{SCHEMAS}/crds/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
)
RELEASE = "rapport"
SERVICES = sorted(path.parent.name for path in REPO_ROOT.glob("services/*/__main__.py"))
GRPC_ADDRESSES = {"context_address": "context", "emotion_address": "emotion"}
AUTOSCALED = {"sms_adapter", "social_adapter", "emotion", "orchestrator"}
# The services with a database of their own, and its name on the one PostgreSQL server.
DATABASES = {"context": "context", "agent_desk": "agent_desk", "email_adapter": "email"}
# What CloudNativePG's Secret holds in the examples, and the operator's own Secret in the
# production example: .env.example's values stand in for both.
DATABASE_SECRET = ("rapport-db-app", "password")
EXISTING_SECRET = "rapport-credentials"
# The ConfigMap of articles the production example names; the chart's own otherwise.
EXISTING_KNOWLEDGE = "rapport-knowledge"
CHART_KNOWLEDGE = f"{RELEASE}-articles"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class KubernetesTools:
    helm: Path
    kubeconform: Path


@pytest.fixture(scope="session")
def k8s_tools() -> KubernetesTools:
    """helm and kubeconform at the versions infra/k8s_tools/go.mod pins, built once (Helm
    is a large build: minutes on two cores) into ``var/cache/k8s-tools-<hash of the pins>``."""
    go = require_tool("go", "/usr/local/go/bin/go", install="Go 1.26+ (golang.org)")
    pins = hashlib.sha256(
        (K8S_TOOLS / "go.mod").read_bytes() + (K8S_TOOLS / "go.sum").read_bytes()
    ).hexdigest()[:16]

    def build(staging: Path) -> None:
        run([go, "build", "-ldflags=-s -w", "-o", f"{staging}/", "tool"], cwd=K8S_TOOLS)

    cache = built_once(f"k8s-tools-{pins}", build)
    return KubernetesTools(helm=cache / "helm", kubeconform=cache / "kubeconform")


def env_example() -> dict[str, str]:
    """.env.example's settings (what an operator's Secret holds), by name."""
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))
    return {name: value for name, value in pairs}


def helm(tools: KubernetesTools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools.helm), *args], capture_output=True, text=True, timeout=120, check=False
    )


def helm_template(tools: KubernetesTools, *options: str) -> subprocess.CompletedProcess[str]:
    """``helm template`` of the chart for Kubernetes ``KUBERNETES``, as installed."""
    return helm(
        tools,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        RELEASE,
        "--kube-version",
        KUBERNETES,
        *options,
    )


def render_text(tools: KubernetesTools, *options: str) -> str:
    rendered = helm_template(tools, *options)
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout


def documents(text: str) -> list[Manifest]:
    return [document for document in yaml.safe_load_all(text) if document]


@pytest.fixture(scope="module")
def default_text(k8s_tools: KubernetesTools) -> str:
    return render_text(k8s_tools)


@pytest.fixture(scope="module")
def production_text(k8s_tools: KubernetesTools) -> str:
    return render_text(k8s_tools, "--values", str(PRODUCTION))


@pytest.fixture(scope="module")
def articles_text(k8s_tools: KubernetesTools, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The default values with the demo knowledge folder's articles in knowledge.articles."""
    articles = {path.name: path.read_text() for path in article_files(DEMO_KNOWLEDGE)}
    values = tmp_path_factory.mktemp("values") / "articles.yaml"
    values.write_text(yaml.safe_dump({"knowledge": {"articles": articles}}, allow_unicode=True))
    return render_text(k8s_tools, "--values", str(values))


@pytest.fixture(scope="module", params=["default", "production", "articles"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    """What the chart renders: with the default values, with the production example (an
    existing ConfigMap of articles), with articles in the values (the chart's ConfigMap)."""
    return documents(request.getfixturevalue(f"{request.param}_text"))


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def component(service: str) -> str:
    return service.replace("_", "-")


def workload_name(service: str) -> str:
    return f"{RELEASE}-{component(service)}"


def deployment_of(manifests: list[Manifest], service: str) -> Manifest:
    return of_kind(manifests, "Deployment")[workload_name(service)]


def container_of(manifests: list[Manifest], service: str) -> Manifest:
    (container,) = deployment_of(manifests, service)["spec"]["template"]["spec"]["containers"]
    return dict(container)


def dockerfile_user() -> int:
    """The uid the image runs as (its USER line), which the pods must run as too."""
    (user,) = re.findall(r"^USER (\d+)", (REPO_ROOT / "infra/docker/Dockerfile").read_text(), re.M)
    return int(user)


def kubeconform(tools: KubernetesTools, text: str) -> list[dict[str, Any]]:
    """kubeconform's verdict on each resource of ``text`` (strict, vendored schemas only)."""
    locations = [arg for location in SCHEMA_LOCATIONS for arg in ("-schema-location", location)]
    checked = subprocess.run(
        [
            str(tools.kubeconform),
            "-strict",
            "-verbose",
            "-output",
            "json",
            "-kubernetes-version",
            KUBERNETES,
            *locations,
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return list(json.loads(checked.stdout)["resources"])


# --- helm lint, helm template, kubeconform ---------------------------------------------


@pytest.mark.parametrize(
    "values", [(), ("--values", str(PRODUCTION))], ids=["default", "production"]
)
def test_helm_lint_passes_strictly(k8s_tools: KubernetesTools, values: tuple[str, ...]) -> None:
    linted = helm(k8s_tools, "lint", "--strict", "--kube-version", KUBERNETES, str(CHART), *values)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in linted.stdout


@pytest.mark.parametrize("which", ["default", "production", "articles"])
def test_every_rendered_manifest_is_valid_against_the_kubernetes_schemas(
    k8s_tools: KubernetesTools, request: pytest.FixtureRequest, which: str
) -> None:
    text = request.getfixturevalue(f"{which}_text")
    verdicts = kubeconform(k8s_tools, text)
    assert len(verdicts) == len(documents(text))  # none skipped for want of a schema
    invalid = [v for v in verdicts if v["status"] != "statusValid"]
    assert not invalid, invalid


def test_kubeconform_refuses_unknown_fields_and_kinds_without_a_schema(
    k8s_tools: KubernetesTools, default_text: str
) -> None:
    deployment = copy.deepcopy(deployment_of(documents(default_text), "context"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    stateful_set = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"}}
    verdicts = {
        v["kind"]: v for v in kubeconform(k8s_tools, yaml.safe_dump_all([deployment, stateful_set]))
    }
    assert verdicts["Deployment"]["status"] == "statusInvalid"
    assert "readinessProbes" in verdicts["Deployment"]["msg"]
    assert verdicts["StatefulSet"]["status"] == "statusError"
    assert "could not find schema" in verdicts["StatefulSet"]["msg"]


def test_production_example_renders_every_optional_part(production_text: str) -> None:
    kinds = {m["kind"] for m in documents(production_text)}
    assert kinds >= {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert kinds >= {"NetworkPolicy", "Ingress", "ServiceMonitor", "Job", "PersistentVolumeClaim"}


# --- Deployments -----------------------------------------------------------------------


def deployment_problems(deployment: Manifest) -> list[str]:
    """What keeps a Deployment from being run safely: missing probes, unbounded resources,
    a pod that could run as root or write its image, Kubernetes' variables in its env."""
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    problems = []
    context = pod.get("securityContext", {})
    if not context.get("runAsNonRoot") or context.get("runAsUser") != dockerfile_user():
        problems.append(f"{name}: not run as the image's user {dockerfile_user()}")
    if pod.get("enableServiceLinks") is not False or pod.get("automountServiceAccountToken"):
        problems.append(f"{name}: service links or an API token in the pod")
    for container in pod["containers"]:
        where = f"{name}/{container['name']}"
        for probe in ("readinessProbe", "livenessProbe"):
            if not container.get(probe):
                problems.append(f"{where}: no {probe}")
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(bound, {}):
                    problems.append(f"{where}: no {resource} in {bound}")
        security = container.get("securityContext", {})
        if not security.get("readOnlyRootFilesystem"):
            problems.append(f"{where}: writable root filesystem")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: may escalate privileges")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: keeps Linux capabilities")
    return problems


def test_one_deployment_per_service(manifests: list[Manifest]) -> None:
    assert set(of_kind(manifests, "Deployment")) == {workload_name(s) for s in SERVICES}
    for service in SERVICES:
        container = container_of(manifests, service)
        assert container["command"] == ["python", "-m", f"services.{service}"]


def test_every_deployment_has_probes_resources_and_a_locked_down_pod(
    manifests: list[Manifest],
) -> None:
    for deployment in of_kind(manifests, "Deployment").values():
        assert deployment_problems(deployment) == []


def test_the_deployment_check_catches_a_pod_without_probes_or_limits(
    default_text: str,
) -> None:
    deployment = copy.deepcopy(deployment_of(documents(default_text), "emotion"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"], container["resources"]["limits"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    assert deployment_problems(deployment) == [
        "rapport-emotion/emotion: no readinessProbe",
        "rapport-emotion/emotion: no cpu in limits",
        "rapport-emotion/emotion: no memory in limits",
        "rapport-emotion/emotion: writable root filesystem",
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_ports_and_probes_are_the_services_own(manifests: list[Manifest], service: str) -> None:
    settings = settings_of(service)
    container = container_of(manifests, service)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    expected = {"metrics": settings.metrics_port}
    for name in ("http", "grpc"):
        if port := getattr(settings, f"{name}_port", None):
            expected[name] = port
    assert ports == expected
    if "grpc" in ports:  # the standard gRPC health service, which needs no token
        probe: dict[str, Any] = {"grpc": {"port": ports["grpc"]}}
    elif "http" in ports:
        probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    else:  # the orchestrator serves nothing but its metrics (as infra/healthcheck.py)
        probe = {"httpGet": {"path": "/metrics", "port": "metrics"}}
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert {k: v for k, v in container[kind].items() if k in probe} == probe, kind
    service_ports = of_kind(manifests, "Service")[workload_name(service)]["spec"]["ports"]
    assert {p["name"]: p["port"] for p in service_ports} == expected


def cpus(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity (500m, 1) in cores."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_resources_keep_the_compose_limits(manifests: list[Manifest]) -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    for service in SERVICES:
        limits = compose["services"][service]["deploy"]["resources"]["limits"]
        resources = container_of(manifests, service)["resources"]
        assert cpus(resources["limits"]["cpu"]) == float(limits["cpus"]), service
        assert 0 < cpus(resources["requests"]["cpu"]) <= float(limits["cpus"]), service
        assert resources["limits"]["memory"] == limits["memory"].replace("M", "Mi"), service
        assert resources["requests"]["memory"] == resources["limits"]["memory"], service


def test_media_are_on_a_volume_and_everything_else_is_read_only(
    manifests: list[Manifest],
) -> None:
    for service in SERVICES:
        pod = deployment_of(manifests, service)["spec"]["template"]["spec"]
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        media = {"/data"} if hasattr(settings_of(service), "media_dir") else set()
        knowledge = {"/knowledge"} if knowledge_config_map(manifests, service) else set()
        assert mounts == {"/tmp"} | media | knowledge, service
    claims = of_kind(manifests, "PersistentVolumeClaim")
    kept = [s for s in SERVICES if hasattr(settings_of(s), "media_dir")]
    assert {"web_adapter", "agent_desk"} <= set(kept)
    assert set(claims) == {f"{workload_name(s)}-media" for s in kept}


# --- the orchestrator's knowledge ----------------------------------------------------------


def knowledge_config_map(manifests: list[Manifest], service: str) -> str | None:
    """The ConfigMap a service's pods mount at /knowledge (read-only, whole, so that an
    update reaches the files in place), or None."""
    pod = deployment_of(manifests, service)["spec"]["template"]["spec"]
    mounts = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "knowledge"]
    if not mounts:
        return None
    assert mounts == [{"name": "knowledge", "mountPath": "/knowledge", "readOnly": True}]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "knowledge"]
    return str(volume["configMap"]["name"])


@pytest.mark.parametrize(
    ("which", "config_map"),
    [("default", None), ("production", EXISTING_KNOWLEDGE), ("articles", CHART_KNOWLEDGE)],
)
def test_the_orchestrator_alone_reads_the_configured_knowledge_at_its_folder(
    request: pytest.FixtureRequest, which: str, config_map: str | None
) -> None:
    manifests = documents(request.getfixturevalue(f"{which}_text"))
    for service in SERVICES:
        expected = config_map if service == "orchestrator" else None
        assert knowledge_config_map(manifests, service) == expected, service
        env = {e["name"]: e.get("value") for e in container_of(manifests, service)["env"]}
        assert env.get("RAPPORT_KNOWLEDGE_DIR") == ("/knowledge" if expected else None), service
    owned = set(of_kind(manifests, "ConfigMap"))
    assert owned == ({CHART_KNOWLEDGE} if which == "articles" else set())


def test_articles_render_into_a_configmap_the_orchestrator_reads_as_its_folder(
    articles_text: str, tmp_path: Path
) -> None:
    (config_map,) = of_kind(documents(articles_text), "ConfigMap").values()
    demo = {path.name: path.read_text() for path in article_files(DEMO_KNOWLEDGE)}
    assert config_map["data"] == demo
    for name, text in config_map["data"].items():
        (tmp_path / name).write_text(text)
    assert [a.id for a in read_folder(tmp_path)] == [a.id for a in read_folder(DEMO_KNOWLEDGE)]


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        (
            ("knowledge.existingConfigMap=kb", "knowledge.articles.a\\.yaml=id: a"),
            "set existingConfigMap or articles, not both",
        ),
        (("knowledge.articles.README\\.md=text",), "is not a file name ending in .yaml"),
        (("knowledge.articles.\\.hidden\\.yaml=id: a",), "is not a file name ending in .yaml"),
        (("knowledge.articles.a\\.yaml.id=a",), "the article's YAML as text"),
    ],
)
def test_the_chart_refuses_knowledge_the_orchestrator_would_not_read(
    k8s_tools: KubernetesTools, settings: tuple[str, ...], refusal: str
) -> None:
    rendered = helm_template(k8s_tools, *(arg for s in settings for arg in ("--set", s)))
    assert rendered.returncode != 0 and refusal in rendered.stderr, rendered.stderr


# --- the environment the services read ----------------------------------------------------


def secret_store(manifests: list[Manifest]) -> dict[str, dict[str, str]]:
    """Every Secret a pod may read: the chart's own, or the operator's (and PostgreSQL's)."""
    example = env_example()
    keys = yaml.safe_load((CHART / "values.yaml").read_text())["secrets"]["values"]
    store = {
        name: {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
        for name, secret in of_kind(manifests, "Secret").items()
    }
    store[EXISTING_SECRET] = {key: example[key] for key in keys if key in example}
    store[DATABASE_SECRET[0]] = {DATABASE_SECRET[1]: example["POSTGRES_PASSWORD"]}
    return store


def resolved_env(container: Manifest, secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The container's environment as the kubelet makes it: Secrets read, $(VAR) expanded."""
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is None:
                assert ref.get("optional"), f"{entry['name']}: {ref} is missing"
                continue
            env[entry["name"]] = value
        else:
            env[entry["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                lambda found: env.get(found[1], found[0]),
                entry["value"],
            )
    return env


def rendered_settings(manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    secrets = secret_store(manifests)
    settings = {}
    for service in SERVICES:
        with monkeypatch.context() as patch:
            for name, value in resolved_env(container_of(manifests, service), secrets).items():
                patch.setenv(name, value)
            settings[service] = settings_of(service)  # validation errors fail
    return settings


def test_every_service_accepts_its_rendered_environment(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env of the developer's
    services = {
        s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]}
        for s in of_kind(manifests, "Service").values()
    }
    for service, settings in rendered_settings(manifests, monkeypatch).items():
        assert settings.kafka_bootstrap == "rapport-kafka-bootstrap:9092"
        assert settings.bind_host == "0.0.0.0"
        for field in GRPC_ADDRESSES:
            if hasattr(settings, field):
                host, port = getattr(settings, field).split(":")
                assert int(port) in services[host], (service, field)
        if hasattr(settings, "database_url"):
            assert settings.database_url == (
                f"postgresql://rapport:{env_example()['POSTGRES_PASSWORD']}"
                f"@rapport-db-rw:5432/{DATABASES[service]}"
            )
        if isinstance(settings, MediaSettings):
            assert not settings.media_key_is_development_default, service
            assert settings.outbound_media_origins == ("http://rapport-agent-desk:8083",)
        if hasattr(settings, "media_dir"):
            assert settings.media_dir.parent == Path("/data"), service
        if hasattr(settings, "knowledge_dir") and knowledge_config_map(manifests, service):
            assert settings.knowledge_dir == Path("/knowledge")


def test_grpc_servers_accept_exactly_their_callers_each_by_its_own_token(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = rendered_settings(manifests, monkeypatch)
    servers = {s: v for s, v in settings.items() if isinstance(v, GrpcServerSettings)}
    assert servers.keys() == set(GRPC_ADDRESSES.values())
    for server, server_settings in servers.items():
        assert server_settings.caller_tokens.keys() == callers_of(server)
        assert not server_settings.grpc_allow_unauthenticated
        for caller in callers_of(server):
            token = settings[caller].grpc_token
            assert token is not None and server_settings.caller_tokens[caller] == (
                token.get_secret_value()
            )
    tokens = [s.grpc_token.get_secret_value() for s in settings.values() if s.grpc_token]
    assert len(tokens) == len(set(tokens)) == len(callers_of("context") | callers_of("emotion"))


def test_credentials_come_from_secrets_only(manifests: list[Manifest]) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    secret_names = {*values["secrets"]["values"], "RAPPORT_GRPC_TOKEN"}
    secret_values = {v for s in secret_store(manifests).values() for v in s.values() if len(v) >= 8}
    for service in SERVICES:
        for entry in container_of(manifests, service)["env"]:
            if entry["name"] in secret_names:
                assert "secretKeyRef" in entry["valueFrom"], entry
            else:
                value = entry.get("value", "")
                assert not any(secret in value for secret in secret_values), entry["name"]


def test_an_existing_secret_replaces_the_charts_own(production_text: str) -> None:
    manifests = documents(production_text)
    assert of_kind(manifests, "Secret") == {}
    for service in SERVICES:
        for entry in container_of(manifests, service)["env"]:
            if "valueFrom" in entry:
                assert entry["valueFrom"]["secretKeyRef"]["name"] in {
                    EXISTING_SECRET,
                    DATABASE_SECRET[0],
                }


def test_generated_secrets_are_long_random_and_distinct(default_text: str) -> None:
    (secret,) = of_kind(documents(default_text), "Secret").values()
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    generated = {k: v for k, v in data.items() if k.startswith("RAPPORT_GRPC_TOKEN_")}
    assert len(generated) == 4
    for key in ("RAPPORT_CONTEXT_HASH_KEY", "MEDIA_SIGNING_KEY", *generated):
        assert re.fullmatch(r"[A-Za-z0-9]{43}", data[key]), key
    assert len(set(data.values())) == len(data)


# --- autoscaling, disruption budgets ----------------------------------------------------


def autoscaling_problems(manifests: list[Manifest]) -> list[str]:
    """HorizontalPodAutoscalers that scale nothing, or fight a fixed replica count."""
    deployments = of_kind(manifests, "Deployment")
    problems = []
    for name, hpa in of_kind(manifests, "HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        deployment = deployments.get(target["name"])
        if (target["apiVersion"], target["kind"]) != ("apps/v1", "Deployment") or not deployment:
            problems.append(f"{name}: targets no rendered Deployment ({target['name']})")
            continue
        if "replicas" in deployment["spec"]:
            problems.append(f"{name}: {target['name']} also fixes its replicas")
        if not 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]:
            problems.append(f"{name}: minReplicas above maxReplicas")
    return problems


def test_every_autoscaler_targets_an_existing_deployment(manifests: list[Manifest]) -> None:
    assert autoscaling_problems(manifests) == []


def test_the_production_example_autoscales_the_services_that_share_work(
    production_text: str,
) -> None:
    manifests = documents(production_text)
    hpas = of_kind(manifests, "HorizontalPodAutoscaler")
    assert set(hpas) == {workload_name(s) for s in AUTOSCALED}
    broken = copy.deepcopy(manifests)
    of_kind(broken, "HorizontalPodAutoscaler")["rapport-emotion"]["spec"]["scaleTargetRef"][
        "name"
    ] = "rapport-nothing"
    assert autoscaling_problems(broken) == [
        "rapport-emotion: targets no rendered Deployment (rapport-nothing)"
    ]


@pytest.mark.parametrize(
    ("setting", "refusal"),
    [
        ("services.web_adapter.replicas=2", "runs as one replica"),
        ("services.email_adapter.replicas=2", "runs as one replica"),
        ("services.agent_desk.autoscaling.enabled=true", "cannot be autoscaled"),
        ("services.email_adapter.autoscaling.enabled=true", "cannot be autoscaled"),
        (
            "ingress.enabled=true,ingress.rules[0].host=mail.example.com,"
            "ingress.rules[0].paths[0].path=/,ingress.rules[0].paths[0].service=email_adapter",
            "serves nothing public",
        ),
        ("database.passwordSecret.name=", "POSTGRES_PASSWORD"),
    ],
)
def test_the_chart_refuses_what_rapport_cannot_run(
    k8s_tools: KubernetesTools, setting: str, refusal: str
) -> None:
    rendered = helm_template(k8s_tools, "--set", setting)
    assert rendered.returncode != 0 and refusal in rendered.stderr


def test_every_deployment_has_a_disruption_budget(manifests: list[Manifest]) -> None:
    deployments = of_kind(manifests, "Deployment")
    budgets = of_kind(manifests, "PodDisruptionBudget")
    assert budgets.keys() == deployments.keys()
    for name, budget in budgets.items():
        selector = deployments[name]["spec"]["selector"]["matchLabels"]
        assert budget["spec"]["selector"]["matchLabels"] == selector
        assert budget["spec"]["maxUnavailable"] == 1


# --- network policies -------------------------------------------------------------------


def callers_of(server: str) -> set[str]:
    """The services whose settings hold the server's address: what the code calls."""
    field = next(f for f, host in GRPC_ADDRESSES.items() if host == server)
    return {s for s in SERVICES if field in type(settings_of(s)).model_fields}


def admitted(policy: Manifest, port: int) -> set[str] | None:
    """Who the policy lets reach ``port``: Rapport components by name, or the other
    peers as YAML; None when anyone may."""
    peers: set[str] = set()
    for rule in policy["spec"].get("ingress", []):
        if "ports" in rule and port not in {p["port"] for p in rule["ports"]}:
            continue
        if not rule.get("from"):
            return None
        for peer in rule["from"]:
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if set(peer) == {"podSelector"} and labels.get("app.kubernetes.io/instance") == RELEASE:
                peers.add(labels.get("app.kubernetes.io/component", "every pod"))
            else:
                peers.add(yaml.safe_dump(peer, sort_keys=True))
    return peers


def http_callers(service: str) -> set[str]:
    """Who opens HTTP connections to ``service`` inside the release: the desk, at each
    adapter whose URL its settings hold (customers' media); at the desk, the adapters whose
    code fetches agents' uploads (from the outbound media origins)."""
    if service != "agent_desk":
        return (
            {"agent_desk"}
            if f"{service}_url" in type(settings_of("agent_desk")).model_fields
            else set()
        )
    return {
        caller
        for caller in SERVICES
        if caller != service
        and any(
            "outbound_media_origins" in path.read_text()
            for path in (REPO_ROOT / "services" / caller).rglob("*.py")
        )
    }


def policy_for(manifests: list[Manifest], service: str) -> Manifest:
    policy = of_kind(manifests, "NetworkPolicy")[workload_name(service)]
    selected = policy["spec"]["podSelector"]["matchLabels"]
    assert selected == deployment_of(manifests, service)["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    return policy


@pytest.mark.parametrize("server", sorted(GRPC_ADDRESSES.values()))
def test_only_its_callers_reach_a_grpc_server(manifests: list[Manifest], server: str) -> None:
    port = settings_of(server).grpc_port  # type: ignore[attr-defined]
    callers = {component(caller) for caller in callers_of(server)}
    assert admitted(policy_for(manifests, server), port) == callers


def test_the_network_policy_check_catches_an_extra_peer(default_text: str) -> None:
    policy = copy.deepcopy(policy_for(documents(default_text), "context"))
    policy["spec"]["ingress"][0]["from"].append({"podSelector": {}})
    admitted_now = admitted(policy, 50052)
    assert admitted_now is not None and "podSelector: {}\n" in admitted_now
    policy["spec"]["ingress"][0]["from"] = []
    assert admitted(policy, 50052) is None


def test_http_services_are_reached_from_the_ingress_and_metrics_from_prometheus(
    manifests: list[Manifest],
) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["networkPolicy"]
    ingress = {yaml.safe_dump(peer, sort_keys=True) for peer in values["ingressFrom"]}
    scrapers = {yaml.safe_dump(peer, sort_keys=True) for peer in values["metricsFrom"]}
    # What compose publishes is what the world calls; the rest only the services inside.
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    for service in SERVICES:
        settings = settings_of(service)
        policy = policy_for(manifests, service)
        assert admitted(policy, settings.metrics_port) == scrapers, service
        if http_port := getattr(settings, "http_port", None):
            public = ingress if compose[service].get("ports") else set()
            reached = admitted(policy, http_port)
            assert reached is not None and public <= reached, service
            # Beyond the ingress: only the services that fetch media there.
            assert reached - public == {component(c) for c in http_callers(service)}, service


# --- services, ingress, monitoring, topics ----------------------------------------------------


def test_emotion_is_headless_so_grpc_clients_spread_over_its_replicas(
    manifests: list[Manifest],
) -> None:
    services = of_kind(manifests, "Service")
    assert services[workload_name("emotion")]["spec"]["clusterIP"] == "None"


def test_the_ingress_routes_to_http_services_only(production_text: str) -> None:
    manifests = documents(production_text)
    (ingress,) = of_kind(manifests, "Ingress").values()
    services = of_kind(manifests, "Service")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] == "http" and "http" in ports


def test_the_service_monitor_keeps_the_prometheus_job_names(production_text: str) -> None:
    manifests = documents(production_text)
    (monitor,) = of_kind(manifests, "ServiceMonitor").values()
    label = monitor["spec"]["jobLabel"]
    prometheus = yaml.safe_load((REPO_ROOT / "infra/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in prometheus["scrape_configs"]} - {"prometheus"}
    services = of_kind(manifests, "Service").values()
    assert {s["metadata"]["labels"][label] for s in services} == jobs
    for service in services:
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        assert "metrics" in {p["name"] for p in service["spec"]["ports"]}


def test_topics_are_created_before_the_services_start(manifests: list[Manifest]) -> None:
    (job,) = of_kind(manifests, "Job").values()
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        *("python", "-m", "infra.kafka.create_topics"),
        *("--bootstrap", "rapport-kafka-bootstrap:9092"),
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"]
