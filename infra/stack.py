"""Prints where each part of the local stack listens, read from the services' own settings."""

from __future__ import annotations

import shutil

from infra import monitoring
from services.agent_desk.config import AgentDeskSettings
from services.channels import BUILTIN_CHANNELS
from services.context.config import ContextSettings
from services.email_adapter.config import EmailSettings
from services.emotion.config import EmotionSettings
from services.orchestrator.config import OrchestratorSettings
from services.sms_adapter.config import SmsSettings
from services.social_adapter.config import SocialAdapterSettings
from services.web_adapter.config import WebAdapterSettings


def webhook_rows(host: str, *, exclude_service: str) -> list[tuple[str, str]]:
    """A row per route each channel declares in the registry, on its service's port
    (the web chat's page and socket have rows of their own)."""
    rows: list[tuple[str, str]] = []
    for spec in BUILTIN_CHANNELS:
        if spec.service == exclude_service:
            continue
        port = getattr(spec.settings(), "http_port", None)
        rows.extend(
            (f"{spec.label} webhook", f"http://{host}:{port}{path}") for path in spec.routes
        )
    return rows


def main() -> None:
    web = WebAdapterSettings()
    emotion = EmotionSettings()
    context = ContextSettings()
    orchestrator = OrchestratorSettings()
    sms = SmsSettings()
    social = SocialAdapterSettings()
    desk = AgentDeskSettings()
    email = EmailSettings()
    host = web.bind_host
    rows = [
        ("chat page", f"http://{host}:{web.http_port}/"),
        ("chat WebSocket", f"ws://{host}:{web.http_port}/ws"),
        ("agent desk", f"http://{host}:{desk.http_port}/"),
        ("Kafka bootstrap", web.kafka_bootstrap),
        *webhook_rows(host, exclude_service=web.service_name),
        ("emotion gRPC", f"{host}:{emotion.grpc_port}"),
        ("context gRPC", f"{host}:{context.grpc_port}"),
        ("context database", context.database_url),
        ("agent desk database", desk.database_url),
        ("email adapter database", email.database_url),
        ("metrics web_adapter", f"http://{host}:{web.metrics_port}/metrics"),
        ("metrics emotion", f"http://{host}:{emotion.metrics_port}/metrics"),
        ("metrics context", f"http://{host}:{context.metrics_port}/metrics"),
        ("metrics orchestrator", f"http://{host}:{orchestrator.metrics_port}/metrics"),
        ("metrics sms_adapter", f"http://{host}:{sms.metrics_port}/metrics"),
        ("metrics social_adapter", f"http://{host}:{social.metrics_port}/metrics"),
        ("metrics agent_desk", f"http://{host}:{desk.metrics_port}/metrics"),
        ("metrics email_adapter", f"http://{host}:{email.metrics_port}/metrics"),
    ]
    if shutil.which("prometheus"):
        rows.append(("Prometheus (alerts)", f"http://{monitoring.DEFAULT_ADDRESS}/alerts"))
    else:
        rows.append(("Prometheus", "not installed (apt-get install prometheus)"))
    print("Rapport is starting; a process that dies is started again, Ctrl-C stops everything.")
    for name, where in rows:
        print(f"  {name:<22} {where}")


if __name__ == "__main__":
    main()
