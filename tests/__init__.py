"""Rapport's tests."""
