"""Language codes as they cross the contracts (ISO 639-1, as the emotion service reads them)."""

UNDETERMINED = "und"
"""What the emotion service says of a text whose language cannot be told ("👍", "ok"):
no language anyone must write in, nor one to remember as the customer's."""


def determined(code: str) -> str:
    """``code`` when it names a language; "" when it is empty or undetermined."""
    return "" if code == UNDETERMINED else code
