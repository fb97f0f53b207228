"""Rapport's services: one package per process, run as ``python -m services.<name>``."""
