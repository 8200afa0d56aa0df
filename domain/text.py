"""Rules for free text that every store must be able to keep."""


def storable(text: str) -> bool:
    """Whether text can be stored anywhere: no NUL, no lone surrogate (not valid UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
