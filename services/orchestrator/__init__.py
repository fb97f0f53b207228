"""Orchestrator: reads every inbound message, asks emotion and context, decides and replies."""
