"""Rapport's own library: settings, Kafka and gRPC plumbing, channels, observability."""
