"""The whole stack as separate processes, started once for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack


@pytest.fixture(scope="session")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("stack"))
    try:
        stack.start_all()
        yield stack
    finally:
        codes = stack.stop_all()
    unclean = {name: code for name, code in codes.items() if code != 0}
    assert not unclean, f"services did not stop cleanly: {unclean}"
