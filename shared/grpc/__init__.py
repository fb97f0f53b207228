"""gRPC plumbing: the server bootstrap and client channels with deadlines and retries."""
