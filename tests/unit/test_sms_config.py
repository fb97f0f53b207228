"""SMS adapter settings: local defaults that start, and refusals that say what is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.sms_adapter.config import DEVELOPMENT_ACCOUNT_SID, SmsSettings


def test_the_defaults_start_locally_with_a_clearly_fake_account() -> None:
    settings = SmsSettings()
    assert settings.account_sid == DEVELOPMENT_ACCOUNT_SID
    assert (settings.http_port, settings.metrics_port, settings.max_segments) == (8081, 9105, 8)
    assert settings.api_base_url == "https://api.twilio.com"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAPPORT_SMS_AUTH_TOKEN", "from-env")
    monkeypatch.setenv("RAPPORT_SMS_TRUSTED_PROXIES", '["10.0.0.0/8", "::1"]')
    monkeypatch.setenv("CONTEXT_ADDRESS", "context.internal:50052")
    settings = SmsSettings()
    assert settings.auth_token.get_secret_value() == "from-env"
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
    assert settings.context_address == "context.internal:50052"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"auth_token": ""}, "RAPPORT_SMS_AUTH_TOKEN is empty"),
        ({"auth_token": "   "}, "RAPPORT_SMS_AUTH_TOKEN is empty"),
        ({"account_sid": "SK123"}, "ACCOUNT_SID"),
        ({"from_number": "0044 20"}, "E.164"),
        ({"from_number": "", "messaging_service_sid": ""}, "MESSAGING_SERVICE_SID"),
        ({"messaging_service_sid": "MG12"}, "MG followed by 32 hex"),
        ({"trusted_proxies": ("10.0.0.0/33",)}, "10.0.0.0/33"),
        ({"public_base_url": "hooks.example.com"}, "http"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    overrides: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint.replace(".", r"\.")):
        SmsSettings(**overrides)  # type: ignore[arg-type]
