"""Metrics of the web adapter."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

FRAMES = Counter(
    "rapport_web_frames_total",
    "WebSocket frames received from visitors, by outcome (published, or the error code).",
    ["outcome"],
)
REPLIES = Counter(
    "rapport_web_replies_total",
    "Replies for web visitors, by outcome (delivered, held, delivered_after_hold, refused, "
    "duplicate).",
    ["outcome"],
)
CONNECTIONS = Gauge("rapport_web_connections", "Open WebSocket connections.")
UPLOADS = Counter(
    "rapport_web_uploads_total",
    "Images visitors uploaded, by outcome (stored, empty, too_large, unsupported_type).",
    ["outcome"],
)
