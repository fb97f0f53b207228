"""Tools the deployment tests run: promtool (Debian's prometheus package), Go and podman."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def require_tool(name: str, *fallbacks: str, install: str) -> str:
    """The tool's path; a missing tool fails the test (skipping would hide a broken setup)."""
    for candidate in (shutil.which(name), *fallbacks):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(f"{name} is not installed: {install}")


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool", install="apt-get install prometheus (ships promtool)")


@pytest.fixture(scope="session")
def podman() -> str:
    """The container engine the image is built and run on (rootful, runc; see .ci/run)."""
    return require_tool(
        "podman", install="apt-get install podman runc netavark aardvark-dns debootstrap"
    )


@pytest.fixture(scope="session")
def compose_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """infra/compose_check built once: compose-spec's own loader, as `docker compose config`."""
    go = require_tool("go", "/usr/local/go/bin/go", install="Go 1.24+ (golang.org)")
    binary = tmp_path_factory.mktemp("compose_check") / "compose_check"
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=REPO_ROOT / "infra" / "compose_check",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return binary
