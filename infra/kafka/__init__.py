"""A single-node Apache Kafka broker (KRaft) for local runs and tests."""
