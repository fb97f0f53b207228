"""Test doubles that implement the same ports as the real adapters."""
