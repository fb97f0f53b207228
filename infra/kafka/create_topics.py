"""Create Rapport's topics on a broker and exit: the init step of a deployment.

``python -m infra.kafka.create_topics --bootstrap kafka:9092`` (compose's ``kafka-init``).
Topics get the retention ``RAPPORT_KAFKA_*`` says (``shared.config.TopicSettings``);
existing ones are brought to it, and left alone when they have it, so it is safe on every
start.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from infra.kafka.embedded import create_topics
from shared.config import TopicSettings
from shared.kafka.topics import topic_specs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.kafka.create_topics", description=__doc__
    )
    parser.add_argument("--bootstrap", required=True, help="host:port of a broker")
    args = parser.parse_args(argv)
    topics = topic_specs(TopicSettings().retention)
    try:
        asyncio.run(create_topics(args.bootstrap, topics))
    except (KafkaError, OSError, TimeoutError) as error:
        print(f"could not create Rapport's topics on {args.bootstrap}: {error}", file=sys.stderr)
        return 1
    print(f"{len(topics)} topics ready on {args.bootstrap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
