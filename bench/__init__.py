"""Benchmarks that print figures; never collected by pytest."""
