"""Logging, metrics and health that every service gets the same way."""
