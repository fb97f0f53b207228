"""Writes Rapport's Grafana dashboards (infra/grafana/dashboards/*.json) from short declarations.

Each panel is a title, a unit and PromQL queries on the metrics of docs/metrics.md;
the JSON around them is the same for every panel, so it is built here instead of being
edited by hand in five files. ``python -m infra.dashboards`` rewrites the files,
``--check`` exits 1 when they are stale. Every query is evaluated against a real
Prometheus by tests/integration/test_monitoring.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
"""The datasource provisioned in infra/grafana/provisioning/datasources/prometheus.yml."""

RATE = "$__rate_interval"
WIDTH, HEIGHT, COLUMNS = 12, 8, 2


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def quantile(phi: float, metric: str, by: str, selector: str = "") -> str:
    """The ``phi`` quantile of histogram ``metric`` per ``by`` labels."""
    return (
        f"histogram_quantile({phi:g}, sum by ({by}, le) (rate({metric}_bucket{selector}[{RATE}])))"
    )


def p99(metric: str, by: str, selector: str = "") -> str:
    return quantile(0.99, metric, by, selector)


def share(metric: str, part: str, by: str = "") -> str:
    """The fraction of ``metric``'s rate that matches ``part``; 0 (not empty) when none does."""
    grouping = f" by ({by})" if by else ""
    zero = f"0 * sum{grouping} (rate({metric}[{RATE}]))"
    return (
        f"(sum{grouping} (rate({metric}{{{part}}}[{RATE}])) or {zero}) "
        f"/ sum{grouping} (rate({metric}[{RATE}]))"
    )


OVERVIEW = Dashboard(
    "rapport-overview",
    "Rapport / Overview",
    "Is every service up, how much flows through, how fast and how often it fails.",
    (
        Panel("Services up", (q('sum by (job) (up{job!="prometheus"})', "{{job}}"),), kind="stat"),
        Panel(
            "Inbound messages handled",
            (
                q(
                    "sum by (outcome) (rate(rapport_kafka_records_consumed_total"
                    f'{{topic="rapport.inbound.v1"}}[{RATE}]))',
                    "{{outcome}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Replies published",
            (q(f"sum by (kind) (rate(rapport_orchestrator_replies_total[{RATE}]))", "{{kind}}"),),
            unit="reqps",
        ),
        Panel(
            "HTTP requests",
            (
                q(
                    f"sum by (job, code) (rate(rapport_http_requests_total[{RATE}]))",
                    "{{job}} {{code}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "HTTP error ratio (5xx)",
            (q(share("rapport_http_requests_total", 'code=~"5.."', "job"), "{{job}}"),),
            unit="percentunit",
        ),
        Panel(
            "HTTP p99 latency",
            (q(p99("rapport_http_request_duration_seconds", "job"), "{{job}}"),),
            unit="s",
        ),
        Panel(
            "gRPC server p99 latency",
            (q(p99("rapport_grpc_server_handling_seconds", "job, method"), "{{method}}"),),
            unit="s",
        ),
        Panel(
            "gRPC client p99 latency",
            (q(p99("rapport_grpc_client_handling_seconds", "job, method"), "{{job}} {{method}}"),),
            unit="s",
        ),
        Panel(
            "gRPC calls by status code (client side)",
            (
                q(
                    f"sum by (code) (rate(rapport_grpc_client_handling_seconds_count[{RATE}]))",
                    "{{code}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Items per batch call (gRPC clients)",
            (
                q(
                    f"sum by (method) (rate(rapport_grpc_client_batch_items_sum[{RATE}]))"
                    f" / sum by (method) (rate(rapport_grpc_client_batch_items_count[{RATE}]))",
                    "{{method}}",
                ),
            ),
            description="Items asked for together travel as one call; near 1 when quiet.",
        ),
        Panel(
            "Kafka consumer lag",
            (q("sum by (group, topic) (rapport_kafka_consumer_lag)", "{{group}} {{topic}}"),),
            description="Records waiting per consumer group and topic (sum over partitions).",
        ),
        Panel(
            "Kafka handling p99 latency",
            (q(p99("rapport_kafka_handle_duration_seconds", "job, topic"), "{{job}} {{topic}}"),),
            unit="s",
        ),
        Panel(
            "Records waiting for a dependency",
            (
                q(
                    "max by (group, topic) (rapport_kafka_dependency_wait_oldest_seconds)",
                    "oldest waiting {{group}} {{topic}}",
                ),
            ),
            unit="s",
            description="How long the oldest record held for an unavailable service, "
            "database or broker has waited; its partition is paused meanwhile. 0 when none.",
        ),
        Panel(
            "Paused partitions",
            (q("sum by (group, topic) (rapport_kafka_paused_partitions)", "{{group}} {{topic}}"),),
            description="Partitions not fetched while a record of theirs waits for a dependency.",
        ),
        Panel(
            "Dead letters (last hour)",
            (
                q(
                    "sum by (job, topic) (increase(rapport_kafka_dead_letters_total[1h]))",
                    "{{job}} {{topic}}",
                ),
            ),
        ),
        Panel(
            "Records published",
            (
                q(
                    f"sum by (topic) (rate(rapport_kafka_records_published_total[{RATE}]))",
                    "{{topic}}",
                ),
            ),
            unit="reqps",
        ),
    ),
)

CHANNELS = Dashboard(
    "rapport-channels",
    "Rapport / Channels",
    "Webhooks in and messages out, per channel; the web chat's sockets; SMS costs.",
    (
        Panel(
            "Webhooks by outcome",
            (
                q(
                    f"sum by (channel, outcome) (rate(rapport_webhook_requests_total[{RATE}]))",
                    "{{channel}} {{outcome}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Webhook signature failures",
            (
                q(
                    "sum by (channel) (rate(rapport_webhook_requests_total"
                    f'{{outcome="bad_signature"}}[{RATE}]))',
                    "{{channel}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Outbound sends by outcome",
            (
                q(
                    f"sum by (channel, outcome) (rate(rapport_channel_sends_total[{RATE}]))",
                    "{{channel}} {{outcome}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Webhook p99 latency by route",
            (q(p99("rapport_http_request_duration_seconds", "job, route"), "{{job}} {{route}}"),),
            unit="s",
        ),
        Panel(
            "Web chat connections",
            (q("sum(rapport_web_connections)", "open sockets"),),
        ),
        Panel(
            "Web chat frames by outcome",
            (q(f"sum by (outcome) (rate(rapport_web_frames_total[{RATE}]))", "{{outcome}}"),),
            unit="reqps",
        ),
        Panel(
            "Web chat replies by outcome",
            (q(f"sum by (outcome) (rate(rapport_web_replies_total[{RATE}]))", "{{outcome}}"),),
            unit="reqps",
        ),
        Panel(
            "SMS segments sent (billed)",
            (
                q(
                    f"sum by (encoding) (rate(rapport_sms_segments_sent_total[{RATE}]))",
                    "{{encoding}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "SMS compliance keywords",
            (
                q(
                    f"sum by (intent) (rate(rapport_sms_compliance_keywords_total[{RATE}]))",
                    "{{intent}}",
                ),
            ),
            unit="reqps",
        ),
    ),
)

EMPATHY = Dashboard(
    "rapport-empathy",
    "Rapport / Empathy KPIs",
    "How customers feel when they write, what the bot decided, and how they rated the help.",
    (
        Panel(
            "Dominant emotion",
            (
                q(
                    f"sum by (emotion) (rate(rapport_emotion_predictions_total[{RATE}]))",
                    "{{emotion}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Sentiment",
            (
                q(
                    f"sum by (sentiment) (rate(rapport_emotion_sentiments_total[{RATE}]))",
                    "{{sentiment}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Share of negative messages",
            (q(share("rapport_emotion_sentiments_total", 'sentiment="negative"'), "negative"),),
            unit="percentunit",
            kind="stat",
        ),
        Panel(
            "Decisions",
            (
                q(
                    f"sum by (action) (rate(rapport_orchestrator_decisions_total[{RATE}]))",
                    "{{action}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Escalations by reason",
            (
                q(
                    f"sum by (reason) (rate(rapport_orchestrator_handoffs_total[{RATE}]))",
                    "{{reason}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Escalation rate",
            (
                q(
                    f"sum(rate(rapport_desk_escalations_total[{RATE}])) "
                    f"/ sum(rate(rapport_desk_conversations_total[{RATE}]))",
                    "escalated",
                ),
            ),
            unit="percentunit",
            description="Tickets opened by a handoff per conversation started (agent desk).",
        ),
        Panel(
            "CSAT (share of 4 and 5 ratings, last 24 h)",
            (
                q(
                    'sum(increase(rapport_desk_csat_ratings_total{score=~"4|5"}[24h])) '
                    "/ sum(increase(rapport_desk_csat_ratings_total[24h]))",
                    "CSAT",
                ),
            ),
            unit="percentunit",
            kind="stat",
        ),
        Panel(
            "First-contact resolution (last 24 h)",
            (
                q(
                    "sum(increase(rapport_desk_first_contact_resolutions_total[24h])) "
                    "/ sum(increase(rapport_desk_resolutions_total[24h]))",
                    "first contact",
                ),
            ),
            unit="percentunit",
            kind="stat",
        ),
        Panel(
            "Sentiment change per resolved ticket (median, last 24 h)",
            (
                q(
                    "histogram_quantile(0.5, sum by (le) "
                    "(increase(rapport_desk_sentiment_change_bucket[24h])))",
                    "median change",
                ),
            ),
            description="Last sentiment reading minus the first, from -2 to 2: above 0 is better.",
        ),
    ),
)

HANDOFF = Dashboard(
    "rapport-handoff",
    "Rapport / Handoff",
    "Conversations handed to people: why, what agents did, how customers rated it.",
    (
        Panel(
            "Handoffs requested, by reason",
            (
                q(
                    f"sum by (reason) (rate(rapport_orchestrator_handoffs_total[{RATE}]))",
                    "{{reason}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Handoffs received by the desk",
            (
                q(
                    f"sum by (outcome) (rate(rapport_desk_handoffs_total[{RATE}]))",
                    "{{outcome}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Agent actions applied",
            (
                q(
                    f"sum by (kind) (rate(rapport_orchestrator_agent_actions_total[{RATE}]))",
                    "{{kind}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Agents online (live desk streams)",
            (q("sum(rapport_desk_live_clients)", "streams"),),
        ),
        Panel(
            "Desk logins by outcome",
            (
                q(
                    f"sum by (outcome) (rate(rapport_desk_logins_total[{RATE}]))",
                    "{{outcome}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Queue length by channel",
            (q("sum by (channel) (rapport_desk_queue_length)", "{{channel}}"),),
        ),
        Panel(
            "Wait until claimed, p90",
            (q(quantile(0.9, "rapport_desk_wait_seconds", "channel"), "{{channel}}"),),
            unit="s",
        ),
        Panel(
            "Handling time, p50",
            (q(quantile(0.5, "rapport_desk_handle_seconds", "channel"), "{{channel}}"),),
            unit="s",
        ),
        Panel(
            "Tickets opened, by reason",
            (
                q(
                    f"sum by (reason) (rate(rapport_desk_escalation_reasons_total[{RATE}]))",
                    "{{reason}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "CSAT ratings by score (last 24 h)",
            (
                q(
                    "sum by (score) (increase(rapport_desk_csat_ratings_total[24h]))",
                    "{{score}}",
                ),
            ),
        ),
        Panel(
            "Agents' messages by delivery outcome",
            (
                q(
                    f"sum by (outcome) (rate(rapport_desk_message_deliveries_total[{RATE}]))",
                    "{{outcome}}",
                ),
            ),
            unit="reqps",
            description="Messages the desk sent (agents' replies, holding messages) as the "
            "channel adapters report them: sent, delivered, read, failed, refused.",
        ),
        Panel(
            "Agents' messages not delivered, by channel and problem",
            (
                q(
                    "sum by (channel, problem) "
                    f"(rate(rapport_desk_message_problems_total[{RATE}]))",
                    "{{channel}} {{problem}}",
                ),
            ),
            unit="reqps",
            description="opted_out, window_closed, customer_erased, platform_error.",
        ),
        Panel(
            "Desk events waiting in the outbox",
            (q("sum(rapport_desk_outbox_pending)", "waiting"),),
            description="Written with the desk's changes, not yet published to Kafka.",
        ),
    ),
)

MODELS = Dashboard(
    "rapport-models",
    "Rapport / Models",
    "The emotion service's models: latency per head, throughput and what they predict.",
    (
        Panel(
            "Inference p99 latency by head",
            (q(p99("rapport_emotion_inference_duration_seconds", "head"), "{{head}}"),),
            unit="s",
        ),
        Panel(
            "Inference p50 latency by head",
            (q(quantile(0.5, "rapport_emotion_inference_duration_seconds", "head"), "{{head}}"),),
            unit="s",
        ),
        Panel(
            "Messages analysed",
            (q(f"sum(rate(rapport_emotion_messages_analysed_total[{RATE}]))", "messages"),),
            unit="reqps",
        ),
        Panel(
            "Emotion service p99 latency (as the orchestrator sees it)",
            (
                q(
                    p99(
                        "rapport_grpc_client_handling_seconds",
                        "method",
                        '{method=~"/rapport.emotion.v1.EmotionService/.*"}',
                    ),
                    "{{method}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Emotion labels",
            (
                q(
                    f"sum by (emotion) (rate(rapport_emotion_predictions_total[{RATE}]))",
                    "{{emotion}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Top intents",
            (
                q(
                    f"topk(10, sum by (intent) (rate(rapport_emotion_intents_total[{RATE}])))",
                    "{{intent}}",
                ),
            ),
            unit="reqps",
        ),
    ),
)

DASHBOARDS = (OVERVIEW, CHANNELS, EMPATHY, HANDOFF, MODELS)


def _panel_json(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {
            "x": (index % COLUMNS) * WIDTH,
            "y": (index // COLUMNS) * HEIGHT,
            "w": WIDTH,
            "h": HEIGHT,
        },
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
            }
            for n, query in enumerate(panel.queries)
        ],
    }


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    """A Grafana dashboard model (schema 39), importable as is or through provisioning."""
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["rapport"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [_panel_json(panel, i) for i, panel in enumerate(dashboard.panels)],
    }


def rendered() -> dict[Path, str]:
    """Each dashboard file's path and content."""
    return {
        DASHBOARDS_DIR / f"{d.uid}.json": json.dumps(dashboard_json(d), indent=2) + "\n"
        for d in DASHBOARDS
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.dashboards", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        extra = set(DASHBOARDS_DIR.glob("*.json")) - set(files)
        for path in [*stale, *sorted(extra)]:
            print(f"{path} is stale: run python -m infra.dashboards", file=sys.stderr)
        return 1 if stale or extra else 0
    DASHBOARDS_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(DASHBOARDS_DIR.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
