"""Look at, and replay, the records Rapport's consumers gave up on (``rapport.dead-letter.v1``).

``python -m infra.deadletters list|show|replay``: see ``__main__``. A dead letter is the
original record, unchanged, with ``dead-letter-*`` headers saying where it came from and why
it failed; replaying puts the original back where it came from, under its own event id, so
every consumer's deduplication still holds.
"""
