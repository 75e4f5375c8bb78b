"""Keyset cursors: an opaque, URL-safe token for "the last id seen"."""

import base64
import binascii

MAX_ID = 2**62
_TAG = "k1"
NOT_OURS = "not a cursor this endpoint returned"  # the 422 message callers give


class InvalidCursor(ValueError):
    """A cursor this API did not hand out; the caller answers 422 naming its own field."""


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_TAG}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor stands for; None for no cursor; InvalidCursor for one we did not make."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, value = raw.partition(":")
        last_id = int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor(cursor) from None
    if tag != _TAG or not 0 < last_id <= MAX_ID:
        raise InvalidCursor(cursor)
    return last_id
