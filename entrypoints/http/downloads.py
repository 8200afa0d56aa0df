"""Pure helpers of the attachment download: the one byte range a `Range` header asks for
(RFC 9110 §14), and a `Content-Disposition` that is safe whatever the file is called
(RFC 6266, with RFC 8187's `filename*`)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

_MAX_DIGITS = 18  # past any real size; longer numbers are read as "past the end"
_PAST_THE_END = 10**_MAX_DIGITS
_ATTR_CHARS = "!#$&+^`|"  # RFC 8187 attr-char beyond what `quote` always keeps (A-Z a-z 0-9 -._~)
_UNSAFE_IN_FALLBACK = frozenset('"\\/%')
FALLBACK_FILENAME = "file"


class RangeNotSatisfiable(Exception):
    """The one range asked for starts past the end of the content (answered 416)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the range starts past the end of the {size} bytes")
        self.size = size


@dataclass(frozen=True, slots=True)
class ByteRange:
    """The bytes `[start, stop)` of content of `size` bytes; never empty."""

    start: int
    stop: int
    size: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.stop - self.start

    @property
    def content_range(self) -> str:
        """The `Content-Range` of a 206 answer: `bytes first-last/size`."""
        return f"bytes {self.start}-{self.stop - 1}/{self.size}"


def _number(digits: str) -> int | None:
    if not (digits.isascii() and digits.isdigit()):
        return None
    return _PAST_THE_END if len(digits) > _MAX_DIGITS else int(digits)


def _one_range(spec: str, size: int) -> ByteRange | None:
    """`a-b`, `a-` or `-n` against `size`; None when malformed. Raises RangeNotSatisfiable."""
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash:
        return None
    if not first_text:  # a suffix: the last `length` bytes
        length = _number(last_text)
        if length is None:
            return None
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(size - length, 0), size, size)
    first = _number(first_text)
    last = _number(last_text) if last_text else None
    if first is None or (last_text and last is None) or (last is not None and last < first):
        return None
    if first >= size:
        raise RangeNotSatisfiable(size)
    stop = size if last is None else min(last + 1, size)
    return ByteRange(first, stop, size)


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range `header` asks for, within content of `size` bytes.

    None means "send it all": no header, another unit, a malformed header (RFC 9110 §14.2
    lets a server ignore one), or several ranges (answered whole rather than as multipart).
    Raises RangeNotSatisfiable when the one range asked for starts at or past the end (or
    is `-0`, or the content is empty).
    """
    if header is None:
        return None
    unit, equals, ranges = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    specs = [spec for spec in ranges.split(",") if spec.strip()]
    if len(specs) != 1:
        return None
    return _one_range(specs[0], size)


def _fallback(filename: str) -> str:
    """An ASCII stand-in for clients that ignore `filename*`: accents dropped, anything
    else that is not printable ASCII (or is a quote, backslash, slash or `%`) made `_`."""
    decomposed = unicodedata.normalize("NFKD", filename)
    kept = "".join(char for char in decomposed if not unicodedata.combining(char))
    safe = "".join(
        "_" if not (" " <= char <= "~") or char in _UNSAFE_IN_FALLBACK else char for char in kept
    )
    return safe.strip() or FALLBACK_FILENAME


def content_disposition(filename: str) -> str:
    """`attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`.

    Whatever `filename` holds (quotes, CR/LF, non-ASCII, lone surrogates) the value is
    printable ASCII; percent-decoding `filename*` as UTF-8 gives `filename` back (a lone
    surrogate, which UTF-8 cannot carry, comes back as `?`).
    """
    encoded = quote(filename.encode("utf-8", "replace"), safe=_ATTR_CHARS)
    return f"attachment; filename=\"{_fallback(filename)}\"; filename*=UTF-8''{encoded}"
