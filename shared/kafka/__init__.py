"""Kafka plumbing: topics, the protobuf codec, producer and consumer wrappers."""
