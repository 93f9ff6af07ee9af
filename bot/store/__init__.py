"""Redis repositories. Every client handed to them is created with decode_responses=True."""


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (typing says bytes or str; our clients decode)."""
    return value.decode() if isinstance(value, bytes) else value
