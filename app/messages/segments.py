"""How many SMS segments a text costs: GSM 03.38 7-bit when it can, else UCS-2.

No maintained library gets every case right (extension characters, escape pairs at a part
boundary, characters outside the BMP), and the count is what a message is charged by, so
the rules live here and are table-tested:

- GSM-7 when every character is in the default alphabet or its extension table; an
  extension character costs two septets (ESC + code). 160 septets fit one SMS; a longer
  text is split into parts of at most 153 septets (the UDH takes the rest), and an escape
  pair is never split: a part that would end on the ESC ends one septet short instead.
- Otherwise UCS-2 for the whole text, counted in UTF-16 code units: 70 in one SMS, 67 per
  part; a character outside the BMP takes two units and its surrogate pair is never split.
"""

from dataclasses import dataclass
from enum import StrEnum

# The 3GPP TS 23.038 default alphabet, in septet order. 0x1B (ESC) is deliberately absent:
# it is the escape to the extension table, not a character a text can contain.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"
    "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table's characters; each is sent as ESC + one septet.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


class InvalidText(ValueError):
    """The text cannot be sent at all (empty, or holds a lone UTF-16 surrogate)."""


@dataclass(frozen=True, slots=True)
class Segmentation:
    encoding: Encoding
    segments: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2) the whole text takes
    unit_limit: int  # units one segment of this text can hold: 160/153 or 70/67
    parts: tuple[str, ...]  # the text as it would be split, one string per segment

    @property
    def units_left(self) -> int:
        """Units still free in the last segment (what a UI shows as "characters left")."""
        if self.segments == 1:
            return self.unit_limit - self.units
        last = self.parts[-1]
        return self.unit_limit - sum(_cost(self.encoding, ch) for ch in last)


def encoding_of(text: str) -> Encoding:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return Encoding.GSM7
    return Encoding.UCS2


def segment(text: str) -> Segmentation:
    """Count and split `text`; raises InvalidText when it cannot be sent."""
    if not text:
        raise InvalidText("the text is empty")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        # A lone surrogate is not text: it cannot be encoded for either upstream.
        raise InvalidText("the text holds an unpaired UTF-16 surrogate")
    encoding = encoding_of(text)
    single, part = (
        (GSM7_SINGLE, GSM7_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    )
    units = sum(_cost(encoding, ch) for ch in text)
    if units <= single:
        return Segmentation(encoding, 1, units, single, (text,))
    parts = _split(encoding, text, part)
    return Segmentation(encoding, len(parts), units, part, parts)


def _cost(encoding: Encoding, ch: str) -> int:
    if encoding is Encoding.GSM7:
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def _split(encoding: Encoding, text: str, limit: int) -> tuple[str, ...]:
    # Greedy by character: a two-unit character (escape pair, surrogate pair) that does
    # not fit whole in the current part starts the next one, so neither is ever cut.
    parts: list[str] = []
    start, used = 0, 0
    for i, ch in enumerate(text):
        cost = _cost(encoding, ch)
        if used + cost > limit:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return tuple(parts)
