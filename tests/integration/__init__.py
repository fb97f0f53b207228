"""Tests that run against a real Kafka broker and real gRPC servers."""
