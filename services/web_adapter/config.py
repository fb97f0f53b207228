"""Settings of the web adapter."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import MediaSettings


class WebAdapterSettings(MediaSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_WEB_")
    service_name: ClassVar[str] = "web_adapter"

    http_port: int = Field(8080, ge=0, le=65535)
    metrics_port: int = Field(9101, ge=0, le=65535)
    consumer_group: str = "rapport-web-adapter"
    # A stable id per replica (static group membership): a restarted adapter gets its
    # partitions back at once instead of after the session timeout.
    instance_id: str | None = None
    # Frames above this get an error frame; the socket stays open.
    max_frame_bytes: int = Field(16_384, gt=0)
    max_text_chars: int = Field(2_000, gt=0)
    # Frames above this are refused by the WebSocket layer itself (close code 1009).
    max_socket_message_bytes: int = Field(1_048_576, gt=0)
    # Replies kept for a visitor who is offline, delivered when they reconnect; held on
    # the compacted topic rapport.web.held-replies.v1, so a restart loses none.
    held_replies_per_visitor: int = Field(50, ge=0)
    # Images a visitor attaches (JPEG, PNG, GIF, WebP): where they are kept, named by
    # their SHA-256, and the largest taken.
    media_dir: Path = Path("var/web_media")
    upload_max_bytes: int = Field(5 * 1024 * 1024, gt=0)
