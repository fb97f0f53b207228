"""Metrics of the SMS adapter; webhook outcomes and send outcomes are counted in shared."""

from __future__ import annotations

from prometheus_client import Counter

SEGMENTS_SENT = Counter(
    "rapport_sms_segments_sent_total",
    "SMS segments handed to Twilio (what carriers bill), by encoding (GSM-7, UCS-2).",
    ["encoding"],
)
COMPLIANCE_KEYWORDS = Counter(
    "rapport_sms_compliance_keywords_total",
    "Compliance requests received by SMS, by intent (opt_out, opt_in, help).",
    ["intent"],
)
