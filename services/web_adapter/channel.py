"""The web chat's entry in the channel registry (``services/channels.py``).

The chat page shows a reply as plain text, exactly as written, so the web has no
rendering rules: its capabilities are None.
"""

from __future__ import annotations

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.uploads import UPLOAD_PATH
from shared.channels.registry import ChannelSpec

CHANNEL = ChannelSpec(
    name="web",
    service="web_adapter",
    label="Web chat",
    routes=("/", "/ws", "/widget.js", UPLOAD_PATH),
    settings=WebAdapterSettings,
    capabilities=lambda: None,
)
