"""Local infrastructure Rapport needs to run and be tested without containers."""
