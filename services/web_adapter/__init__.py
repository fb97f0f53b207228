"""Web adapter: the chat widget's HTTP and WebSocket endpoint, and delivery of web replies."""
