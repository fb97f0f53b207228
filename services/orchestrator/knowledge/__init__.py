"""The business's own knowledge: articles it writes (``articles``), matched with a
customer's message by their embeddings (``index``), kept current while the service runs
(``library``), and the operators' ``knowledge check`` and ``knowledge evaluate`` (``cli``)."""
