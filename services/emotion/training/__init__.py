"""Reproducible training pipeline of the emotion service's models: prepare, train, evaluate."""
