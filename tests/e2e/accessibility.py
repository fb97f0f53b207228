"""Accessibility checks for the browser tests: axe-core, from npm (tests/e2e/package.json,
installed by `make test`), run inside the page as it stands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
"""The impacts a page may not have: what keeps someone from using it, not a nicety."""

_RUN_AXE = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((node) => node.target.join(" ")),
  }));
}"""


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on ``page``, of every impact: id, impact, help and targets.

    The script is injected as an inline script: a page whose Content-Security-Policy
    refuses those (the agent desk's) is opened in a context with ``bypass_csp``."""
    if not AXE.is_file():
        raise AssertionError(f"axe-core is missing at {AXE}: run `make test-e2e` (npm ci)")
    await page.add_script_tag(path=AXE)
    found: list[dict[str, Any]] = await page.evaluate(_RUN_AXE)
    return found


async def assert_accessible(page: Page, what: str) -> None:
    """Fail, naming each rule broken with its impact and the elements breaking it, when
    ``page`` has a serious or critical accessibility violation."""
    blocking = [v for v in await violations(page) if v["impact"] in BLOCKING]
    assert not blocking, f"{what} has accessibility violations:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}; at {', '.join(v['targets'])}" for v in blocking
    )
