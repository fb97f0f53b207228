"""How every service's process starts: logging, the development-key warning, metrics."""

from __future__ import annotations

import logging
import urllib.request
from urllib.error import URLError

import pytest
from pydantic import SecretStr

from services.email_adapter.config import EmailSettings
from shared import runtime
from shared.config import ServiceSettings


class _Plain(ServiceSettings):
    service_name = "plain"


def _metrics_answer(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return int(answer.status)


def test_metrics_are_served_inside_the_block_and_closed_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured: list[tuple[str, str]] = []
    monkeypatch.setattr(runtime, "configure_logging", lambda *args: configured.append(args))
    with runtime.observed(_Plain(metrics_port=0, log_level="DEBUG")) as metrics:
        assert _metrics_answer(metrics.port) == 200
    assert configured == [("plain", "DEBUG")]
    with pytest.raises(URLError):
        _metrics_answer(metrics.port)


def test_the_public_development_media_key_is_warned_about_only_when_in_use(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtime, "configure_logging", lambda *args: None)
    caplog.set_level(logging.WARNING, logger=runtime.__name__)
    with runtime.observed(EmailSettings(metrics_port=0)):
        pass
    assert "MEDIA_SIGNING_KEY is the public development default" in caplog.messages
    caplog.clear()
    own_key = SecretStr("a-key-only-this-deployment-knows")
    with runtime.observed(EmailSettings(metrics_port=0, media_signing_key=own_key)):
        pass
    assert caplog.messages == []
