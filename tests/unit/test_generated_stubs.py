"""The committed stubs in shared/gen must be exactly what protos/ generates today."""

from __future__ import annotations

from pathlib import Path

from infra.protogen import GENERATED_ROOT, generate


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_committed_stubs_match_the_contracts(tmp_path: Path) -> None:
    generate(tmp_path)
    fresh, committed = _tree(tmp_path), _tree(GENERATED_ROOT)
    stale = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert not stale, f"shared/gen is stale, run `make protos`: {stale}"


def test_a_changed_contract_is_detected(tmp_path: Path) -> None:
    generate(tmp_path)
    stub = tmp_path / "rapport" / "common" / "v1" / "envelope_pb2.py"
    stub.write_bytes(stub.read_bytes() + b"\n# edited\n")
    assert _tree(tmp_path) != _tree(GENERATED_ROOT)
