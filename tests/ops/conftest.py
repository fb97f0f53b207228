"""Tools the deployment tests run: promtool (Debian's prometheus package), Go and podman."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / "var" / "cache"


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


def built_once(name: str, build: Callable[[Path], None]) -> Path:
    """``var/cache/<name>/``, filled by ``build`` the first time only.

    For tools built from source (minutes on two cores): ``build`` fills a temporary sibling,
    under a file lock, which is renamed into place when it returns, so a new ``name`` (put
    the pinned version in it) builds afresh, an interrupted build leaves nothing half-made
    and parallel test processes build it once. A failed build fails the test.
    """
    cache = CACHE / name
    if cache.is_dir():
        return cache
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cache.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=CACHE))
            try:
                build(staging)
            except (RuntimeError, subprocess.SubprocessError, OSError) as failed:
                shutil.rmtree(staging, ignore_errors=True)
                pytest.fail(f"building {name} failed:\n{failed}")
            staging.rename(cache)
    return cache
