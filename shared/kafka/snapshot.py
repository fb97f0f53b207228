"""Reading a whole topic as it stands, without a consumer group: state kept on Kafka.

A service that keeps a small state on a compacted topic (one record per key, a record
with no value deletes its key) rebuilds it on start by reading every partition from its
beginning to the end offsets it had when the read began.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.errors import NotFoundError
from shared.kafka.connect import start_client

FETCH_TIMEOUT_MS = 500


async def _partitions_of(bootstrap: str, topic: str, client_id: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0 or not described["partitions"]:
        raise NotFoundError(f"topic {topic} does not exist on {bootstrap}")
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def read_to_end(
    bootstrap: str, topic: str, client_id: str
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``, partition by partition, up to the end as it is now."""
    consumer = await start_client(
        bootstrap,
        lambda: AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
        ),
    )
    try:
        partitions = await _partitions_of(bootstrap, topic, client_id)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
