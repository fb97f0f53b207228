"""Build Rapport's image with podman on a machine that reaches no image registry.

``infra/docker/Dockerfile`` starts from the official slim Python image by default. Where
that image cannot be pulled, ``python -m infra.container_image`` builds the same
Dockerfile on a local base instead: Debian (the release the official tag names, minbase)
with Debian's python3 of the same minor version, made with debootstrap and imported into
podman. The build itself needs no network either: the runtime dependencies come from a
wheelhouse downloaded once from PyPI on this machine and mounted at ``/wheels``.

Both are cached under ``var/cache/`` keyed by their inputs (the base by release, Python and
package list; the wheelhouse by the lock and the dependencies), so a second run only
lets podman reuse its cached layers. Prints the image's tag.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "infra" / "docker" / "Dockerfile"
IGNOREFILE = DOCKERFILE.with_name("Dockerfile.dockerignore")
CACHE = REPO_ROOT / "var" / "cache"
DEFAULT_TAG = "localhost/rapport:local"
MIRROR = "http://deb.debian.org/debian"
# What the official slim image has besides Python: certificates, service names, time zones
# (the agent desk's business hours use zoneinfo); python3-venv for ``python3 -m venv``.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "netbase", "tzdata")
# Wheels are fetched for the image's interpreter and C library, not this machine's: every
# manylinux tag the release's glibc runs (pip expands only the legacy manylinux2014 alias).
GLIBC_MINOR = {"bookworm": 36, "trixie": 41}
BUILD_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class BaseSpec:
    """Everything the local base image is made from: its cache key."""

    suite: str
    python: str  # major.minor, as in the official image's tag
    packages: tuple[str, ...] = BASE_PACKAGES
    variant: str = "minbase"
    mirror: str = MIRROR

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"localhost/rapport-base:{self.suite}-py{self.python}-{self.key}"


def official_base(dockerfile: Path = DOCKERFILE) -> BaseSpec:
    """The Debian release and Python version of the Dockerfile's default base image."""
    found = re.search(
        r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)\.\d+-slim-(\w+)$", dockerfile.read_text(), re.M
    )
    if found is None:
        raise LookupError(f"{dockerfile} has no ARG PYTHON_IMAGE=python:X.Y.Z-slim-<release>")
    return BaseSpec(suite=found.group(2), python=found.group(1))


def run(
    command: Sequence[str | Path], timeout: float = BUILD_TIMEOUT_SECONDS, cwd: Path | None = None
) -> str:
    """Run ``command``; its output, or an error carrying what it printed."""
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} exited {result.returncode}:\n"
            f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return result.stdout


def image_exists(podman: str, tag: str) -> bool:
    return subprocess.run([podman, "image", "exists", tag], check=False).returncode == 0


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """One builder at a time per cache entry: test runs started together share the entry
    the first one makes instead of removing each other's half-made one."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def remove_tree(tree: Path) -> None:
    """Remove what a cut-short debootstrap left, unmounting what it mounted inside (/proc,
    /sys) first, so that nothing outside the tree is ever touched."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if Path(m).is_relative_to(tree)), reverse=True):
        subprocess.run(["umount", "--lazy", mount], check=False)
    shutil.rmtree(tree, ignore_errors=True)


def base_rootfs(spec: BaseSpec, cache: Path = CACHE / "base-image") -> Path:
    """A tarball of the base's root file system, made by debootstrap once per spec (called
    with the spec's lock held)."""
    tarball = cache / f"{spec.suite}-py{spec.python}-{spec.key}.tar"
    if tarball.is_file():
        return tarball
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).is_file():
        raise RuntimeError("debootstrap is not installed: apt-get install debootstrap")
    if os.geteuid() != 0:
        raise RuntimeError("debootstrap needs root: build the base image as root")
    rootfs = cache / f"{tarball.stem}.rootfs"
    remove_tree(rootfs)  # a run cut short leaves a partial tree
    run(
        [
            debootstrap,
            f"--variant={spec.variant}",
            f"--include={','.join(spec.packages)}",
            spec.suite,
            rootfs,
            spec.mirror,
        ]
    )
    python = run(["chroot", rootfs, "python3", "-c", "import sys; print(*sys.version_info[:2])"])
    if python.split() != spec.python.split("."):
        raise RuntimeError(f"Debian {spec.suite} has Python {python.strip()}, not {spec.python}")
    # Package lists and downloaded .debs only make the image bigger (as in the official one).
    for leftover in ("var/lib/apt/lists", "var/cache/apt/archives"):
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    partial = tarball.with_suffix(".tar.partial")
    run(["tar", "--numeric-owner", "-C", rootfs, "-cf", partial, "."])
    partial.rename(tarball)
    remove_tree(rootfs)
    return tarball


def base_image(podman: str, spec: BaseSpec) -> str:
    """The local base image's tag, imported into podman from its cached root file system."""
    with exclusive(CACHE / "base-image" / f"{spec.key}.lock"):
        if image_exists(podman, spec.tag):
            return spec.tag
        run(
            [
                podman,
                "import",
                "--change",
                "ENV=LANG=C.UTF-8",
                "--change",
                'CMD=["python3"]',
                base_rootfs(spec),
                spec.tag,
            ]
        )
    return spec.tag


def wheelhouse(spec: BaseSpec, cache: Path = CACHE / "wheels") -> Path:
    """The runtime dependencies' wheels, at the lock's versions, for the image's Python."""
    lock = (REPO_ROOT / "requirements.lock").read_text()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    requirements = [
        *project["build-system"]["requires"],  # pip builds Rapport itself in the image
        *project["project"]["dependencies"],
    ]
    platforms = [
        *(f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR[spec.suite], 16, -1)),
        "manylinux2014_x86_64",
    ]
    inputs = json.dumps([lock, requirements, spec.python, platforms]).encode()
    key = hashlib.sha256(inputs).hexdigest()[:12]
    wheels = cache / f"py{spec.python}-{key}"
    with exclusive(cache / f"{wheels.name}.lock"):
        if not (wheels / ".complete").is_file():
            download_wheels(spec, wheels, platforms, requirements)
    return wheels


def download_wheels(
    spec: BaseSpec, wheels: Path, platforms: Sequence[str], requirements: Sequence[str]
) -> None:
    """Fill ``wheels`` from PyPI (a partial one is started again)."""
    shutil.rmtree(wheels, ignore_errors=True)
    version = spec.python.replace(".", "")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--dest",
            wheels,
            "--only-binary=:all:",
            f"--python-version={spec.python}",
            "--implementation=cp",
            f"--abi=cp{version}",
            *(f"--platform={platform}" for platform in platforms),
            "--constraint",
            REPO_ROOT / "requirements.lock",
            *requirements,
        ]
    )
    (wheels / ".complete").touch()


def build(podman: str, tag: str = DEFAULT_TAG) -> str:
    """Build the Dockerfile on the local base into ``tag``; podman's layer cache applies."""
    spec = official_base()
    base = base_image(podman, spec)
    wheels = wheelhouse(spec)
    with exclusive(CACHE / "image-build.lock"):
        return build_on(podman, base, wheels, tag)


def build_on(podman: str, base: str, wheels: Path, tag: str) -> str:
    """``podman build`` of the Dockerfile on ``base`` with ``wheels`` at /wheels."""
    previous = subprocess.run(
        [podman, "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    run(
        [
            podman,
            "build",
            "--format=docker",  # keeps the HEALTHCHECK, which OCI image metadata cannot hold
            f"--file={DOCKERFILE}",
            f"--ignorefile={IGNOREFILE}",
            f"--build-arg=PYTHON_IMAGE={base}",
            f"--volume={wheels}:/wheels:ro",
            f"--tag={tag}",
            REPO_ROOT,
        ]
    )
    current = run([podman, "image", "inspect", "--format", "{{.Id}}", tag]).strip()
    if previous and previous != current:
        # The image this tag named before is now nameless; drop it unless a container uses it.
        subprocess.run([podman, "rmi", previous], capture_output=True, check=False)
    return tag


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.container_image", description=__doc__)
    parser.add_argument("--tag", default=DEFAULT_TAG, help=f"default: {DEFAULT_TAG}")
    parser.add_argument("--podman", default=os.environ.get("PODMAN", "podman"))
    args = parser.parse_args(argv)
    print(build(args.podman, args.tag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
