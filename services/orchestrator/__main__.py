"""Composition root of the orchestrator: ``python -m services.orchestrator`` runs it;
``python -m services.orchestrator decide --jsonl FILE`` tries the policy on messages in
this process (``cli``)."""

from __future__ import annotations

import os

# One BLAS thread, set before NumPy loads OpenBLAS: the knowledge lookup multiplies one
# message's vector by the questions' matrix, and OpenBLAS would wake a thread per core to
# spin against the other services (at 100 messages/s with 1,000 articles, a third of the
# orchestrator's time). An operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import asyncio
import logging
import sys

from google.protobuf.message import Message
from rapport.events.v1 import agent_pb2, messages_pb2

from services.orchestrator import cli
from services.orchestrator.agent_actions import AgentActionHandler
from services.orchestrator.clients import EmotionClient
from services.orchestrator.config import OrchestratorSettings
from services.orchestrator.crisis import CrisisResources
from services.orchestrator.handlers import InboundHandler
from services.orchestrator.knowledge.index import Scoring
from services.orchestrator.knowledge.library import KnowledgeLibrary
from services.orchestrator.policy import Policy
from services.orchestrator.shop.config import load_shop_config, open_shop
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import AGENT_ACTIONS, INBOUND
from shared.runtime import observed, run

log = logging.getLogger(__name__)


async def main(stop: asyncio.Event) -> None:
    settings = OrchestratorSettings()
    with observed(settings) as metrics:
        emotion_channel = open_channel(settings.emotion_address, token=settings.grpc_token)
        context_channel = open_channel(settings.context_address, token=settings.grpc_token)
        publisher = EventPublisher(settings.kafka_bootstrap, client_id=settings.service_name)
        # The shop orders are looked up in (shop.yaml, RAPPORT_SHOP_FILE); none: a person checks.
        shop_config = load_shop_config()  # a malformed file stops the service here
        shop = open_shop(shop_config) if shop_config is not None else None
        try:
            await publisher.start()
            context = ContextClient(context_channel, settings.grpc_deadline_seconds)
            emotion = EmotionClient(emotion_channel, settings.grpc_deadline_seconds)
            knowledge = KnowledgeLibrary(settings.knowledge_dir, emotion.embed, Scoring.load())
            knowledge.read()  # a malformed folder stops the service here, naming file and field
            policy = Policy.load(settings.policy_file)
            inbound = InboundHandler(
                emotion=emotion,
                context=context,
                publisher=publisher,
                policy=policy,
                bot_name=settings.bot_name,
                context_turns=settings.context_turns,
                knowledge=knowledge,
                crisis=CrisisResources.load(settings.crisis_resources_file),
                shop=shop,
                signals=publisher,  # "a reply is being prepared", on the customer's channel
            )
            consumer = EventConsumer(
                bootstrap=settings.kafka_bootstrap,
                group_id=settings.consumer_group,
                group_instance_id=settings.instance_id,
                topics={
                    INBOUND: messages_pb2.MessageReceived,
                    AGENT_ACTIONS: agent_pb2.AgentActionTaken,
                },
                dead_letters=publisher,
                client_id=settings.service_name,
                linger_seconds=settings.consumer_linger_ms / 1000,
                linger_in_hand=settings.consumer_linger_in_hand,
            )
            agent_actions = AgentActionHandler(
                context=context,
                publisher=publisher,
                bot_name=settings.bot_name,
                rating_scale=policy.rating_scale,
            )

            async def handle(event: Message) -> None:
                if isinstance(event, agent_pb2.AgentActionTaken):
                    await agent_actions(event)
                else:
                    await inbound(event)

            log.info(
                "orchestrator consuming %s and %s, metrics on :%d",
                INBOUND,
                AGENT_ACTIONS,
                metrics.port,
            )
            await knowledge.first_index(stop, settings.knowledge_start_seconds)
            watching = asyncio.create_task(
                knowledge.keep_current(stop, settings.knowledge_reload_seconds)
            )
            try:
                await consumer.run(handle, stop)
            finally:
                watching.cancel()
        finally:
            if shop is not None:
                await shop.aclose()
            await publisher.stop()
            await emotion_channel.close()
            await context_channel.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(cli.main(sys.argv[1:]))
    run(main)
