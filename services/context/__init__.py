"""Context service: the system of record for customers, conversations and turns, over gRPC."""
