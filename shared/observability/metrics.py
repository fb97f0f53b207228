"""The metrics every service shares, and the endpoint that serves them to Prometheus.

Names follow Prometheus conventions: ``rapport_`` prefix, base units, ``_total`` for
counters; labels take values from small fixed sets (topic, channel, method, outcome),
never a customer or conversation id.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
"""From 1 ms (a cache hit) to 10 s (past every deadline Rapport sets)."""

HTTP_REQUESTS = Counter(
    "rapport_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "code"],
)
HTTP_SECONDS = Histogram(
    "rapport_http_request_duration_seconds",
    "Time to answer an HTTP request (WebSocket and event streams excluded), by route and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS_SECONDS,
)

KAFKA_RECORDS = Counter(
    "rapport_kafka_records_consumed_total",
    "Kafka records a consumer finished with, by outcome (handled, dead_lettered).",
    ["topic", "outcome"],
)
KAFKA_HANDLE_SECONDS = Histogram(
    "rapport_kafka_handle_duration_seconds",
    "Time to handle one Kafka record, retries included.",
    ["topic"],
    buckets=LATENCY_BUCKETS_SECONDS,
)
KAFKA_DEAD_LETTERS = Counter(
    "rapport_kafka_dead_letters_total",
    "Records sent to the dead-letter topic, by the topic they came from.",
    ["topic"],
)
KAFKA_CONSUMER_LAG = Gauge(
    "rapport_kafka_consumer_lag",
    "Records on a partition this consumer owns that it has not yet taken (high watermark "
    "minus position), by consumer group, topic and partition.",
    ["group", "topic", "partition"],
)
KAFKA_PAUSED_PARTITIONS = Gauge(
    "rapport_kafka_paused_partitions",
    "Partitions a consumer stopped fetching because a record of theirs is waiting for a "
    "dependency (a service, store or broker) to answer again, by consumer group and topic.",
    ["group", "topic"],
)
KAFKA_DEPENDENCY_WAIT_OLDEST_SECONDS = Gauge(
    "rapport_kafka_dependency_wait_oldest_seconds",
    "How long the oldest record waiting for a dependency has been waiting (0 when none "
    "is), by consumer group and topic.",
    ["group", "topic"],
)
KAFKA_DEPENDENCY_WAITS = Counter(
    "rapport_kafka_dependency_waits_total",
    "Records that found a dependency unavailable and were kept in hand to be tried again, "
    "by topic.",
    ["topic"],
)
KAFKA_RECORDS_PUBLISHED = Counter(
    "rapport_kafka_records_published_total",
    "Records this process published, by topic.",
    ["topic"],
)
GRPC_SERVER_SECONDS = Histogram(
    "rapport_grpc_server_handling_seconds",
    "Time a gRPC server took to answer, by method and status code.",
    ["method", "code"],
    buckets=LATENCY_BUCKETS_SECONDS,
)
GRPC_UNAUTHENTICATED_CALLS = Counter(
    "rapport_grpc_unauthenticated_calls_total",
    "gRPC calls a server refused for a missing or unknown caller token, by method.",
    ["method"],
)
GRPC_CLIENT_SECONDS = Histogram(
    "rapport_grpc_client_handling_seconds",
    "Time a gRPC call took as the caller saw it, by method and status code.",
    ["method", "code"],
    buckets=LATENCY_BUCKETS_SECONDS,
)
GRPC_CLIENT_BATCH_ITEMS = Histogram(
    "rapport_grpc_client_batch_items",
    "Items per batch call, by method: the items callers asked for together travel together.",
    ["method"],
    buckets=(1, 2, 3, 4, 6, 8, 16, 32, 64),
)


WEBHOOK_REQUESTS = Counter(
    "rapport_webhook_requests_total",
    "Platform webhooks, by channel and outcome (accepted, bad_signature, invalid, "
    "unavailable, too_large, handshake).",
    ["channel", "outcome"],
)
WEBHOOK_ITEMS_REJECTED = Counter(
    "rapport_webhook_items_rejected_total",
    "Items of platform webhooks refused at the edge and not published, by channel and reason "
    "(blank, too_long, missing_field, bad_id, bad_phone, bad_number, bad_attachment, "
    "unknown_status).",
    ["channel", "reason"],
)
CHANNEL_SENDS = Counter(
    "rapport_channel_sends_total",
    "Outbound messages by channel and outcome (sent, refused, failed, duplicate).",
    ["channel", "outcome"],
)
MEDIA_REQUESTS = Counter(
    "rapport_media_requests_total",
    "Media requests (signed /media links, and agents opening attachments at the desk), "
    "by outcome (served, or why not: "
    "bad_signature, expired_link, malformed_link, unknown_reference, not_found, "
    "host_not_allowed, redirect_refused, too_large, type_not_allowed, platform_refused, "
    "unavailable).",
    ["outcome"],
)


@dataclass
class MetricsEndpoint:
    """The running ``/metrics`` HTTP server of one process."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(host: str, port: int) -> MetricsEndpoint:
    """Start serving the default registry on ``host:port`` (0 picks a free port)."""
    server, thread = start_http_server(port, addr=host)
    return MetricsEndpoint(server, thread)
