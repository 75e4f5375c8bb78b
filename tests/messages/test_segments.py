"""The segment counter against every known trap, then against a reference splitter that
works on the encoded bytes (septets / UTF-16 units) instead of on characters."""

import random

import pytest

from app.messages.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Encoding,
    InvalidText,
    Segmentation,
    encoding_of,
    segment,
)

GSM, UCS = Encoding.GSM7, Encoding.UCS2

# 3GPP TS 23.038 default alphabet by septet value, 16 per row; None is 0x1B (ESC).
GSM_TABLE: list[str | None] = [
    *"@£$¥èéùìòÇ\nØø\rÅå",
    *"Δ_ΦΓΛΩΠΨΣΘΞ", None, *"ÆæßÉ",
    *" !\"#¤%&'()*+,-./",
    *"0123456789:;<=>?",
    *"¡ABCDEFGHIJKLMNO",
    *"PQRSTUVWXYZÄÖÑÜ§",
    *"¿abcdefghijklmno",
    *"pqrstuvwxyzäöñüà",
]  # fmt: skip
GSM_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
           "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}  # fmt: skip
ESC = 0x1B


def test_alphabet_tables_are_the_standard_ones() -> None:
    assert len(GSM_TABLE) == 128 and GSM_TABLE[ESC] is None
    assert GSM7_BASIC == {c for c in GSM_TABLE if c is not None}
    assert GSM7_EXTENSION == set(GSM_EXT)
    assert not GSM7_BASIC & GSM7_EXTENSION


# --- the traps --------------------------------------------------------------------------

EMOJI = "😀"  # U+1F600: two UTF-16 code units
CASES: list[tuple[str, str, Encoding, int, int]] = [
    # id, text, encoding, segments, units
    ("one char", "a", GSM, 1, 1),
    ("160 fits one", "a" * 160, GSM, 1, 160),
    ("161 needs two", "a" * 161, GSM, 2, 161),
    ("153x2 is two", "a" * 306, GSM, 2, 306),
    ("153x2+1 is three", "a" * 307, GSM, 3, 307),
    ("euro alone", "€", GSM, 1, 2),
    ("80 euros fill one", "€" * 80, GSM, 1, 160),
    ("81 euros need two", "€" * 81, GSM, 2, 162),
    ("159 plus euro = 161", "a" * 159 + "€", GSM, 2, 161),
    ("158 plus euro = 160", "a" * 158 + "€", GSM, 1, 160),
    # an extension char at septet 153: its ESC would be the 153rd septet, so it moves on
    ("ext at 153", "a" * 152 + "[" + "b" * 10, GSM, 2, 164),
    ("ext pair pushes a third part", "a" * 152 + "{" + "b" * 151 + "}", GSM, 3, 307),
    ("every extension char", "\f^{}\\[~]|€", GSM, 1, 20),
    ("newlines are basic", "line1\nline2\r\n", GSM, 1, 13),
    ("greek capitals are GSM", "ΔΦΓΛΩΠΨΣΘΞ", GSM, 1, 10),
    ("lowercase c-cedilla is not GSM", "ç", UCS, 1, 1),
    ("ESC itself is not GSM", "a\x1bb", UCS, 1, 3),
    ("70 UCS-2 fit one", "Ж" * 70, UCS, 1, 70),
    ("71 UCS-2 need two", "Ж" * 71, UCS, 2, 71),
    ("67x2 UCS-2 is two", "Ж" * 134, UCS, 2, 134),
    ("67x2+1 UCS-2 is three", "Ж" * 135, UCS, 3, 135),
    ("cyrillic", "Привет, мир!", UCS, 1, 12),
    ("turkish dotless i", "Işık ağır", UCS, 1, 9),
    ("turkish dotted capital", "İstanbul", UCS, 1, 8),
    ("one non-GSM char turns it all UCS-2", "a" * 100 + "ş", UCS, 2, 101),
    ("extension chars count 1 in UCS-2", "€" * 70 + "Ж", UCS, 2, 71),
    ("mixed euro and cyrillic", "€[Ж]", UCS, 1, 4),
    ("emoji is two units", EMOJI, UCS, 1, 2),
    ("35 emoji fill one", EMOJI * 35, UCS, 1, 70),
    ("emoji at 70 spills", "a" * 69 + EMOJI, UCS, 2, 71),
    ("emoji across the 67 boundary moves whole", "a" * 66 + EMOJI + "b" * 10, UCS, 2, 78),
    ("emoji pairs never split", EMOJI * 67, UCS, 3, 134),
    ("flag = two astral chars", "🇮🇩", UCS, 1, 4),
    ("zwj family", "👨‍👩‍👧", UCS, 1, 8),
    ("long GSM 1000", "x" * 1000, GSM, 7, 1000),
    ("long UCS-2 1000", "я" * 1000, UCS, 15, 1000),
    ("long mixed", ("Hello {name}! " * 30).strip(), GSM, 4, 479),
]


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_known_traps(text: str, encoding: Encoding, segments: int, units: int) -> None:
    result = segment(text)
    assert (result.encoding, result.segments, result.units) == (encoding, segments, units)
    assert "".join(result.parts) == text
    assert len(result.parts) == result.segments
    assert result.parts == reference_split(text)


def test_escape_moves_to_the_next_part() -> None:
    parts = segment("a" * 152 + "€" + "b" * 10).parts
    assert parts == ("a" * 152, "€" + "b" * 10)


def test_surrogate_pair_moves_to_the_next_part() -> None:
    parts = segment("a" * 66 + EMOJI + "b" * 10).parts
    assert parts == ("a" * 66, EMOJI + "b" * 10)
    for part in parts:
        part.encode("utf-16-be")  # raises if a part held half a pair


@pytest.mark.parametrize(
    ("text", "limit", "left"),
    [("a", 160, 159), ("a" * 160, 160, 0), ("a" * 161, 153, 145), ("€", 160, 158),
     ("a" * 152 + "€" + "b" * 10, 153, 141), ("Ж", 70, 69),
     ("Ж" * 70 + EMOJI, 67, 62)],
)  # fmt: skip
def test_limit_and_units_left(text: str, limit: int, left: int) -> None:
    result = segment(text)
    assert (result.unit_limit, result.units_left) == (limit, left)


@pytest.mark.parametrize("text", ["", "a\ud83d", "\ude00b"])
def test_unsendable_text_is_an_error(text: str) -> None:
    with pytest.raises(InvalidText):
        segment(text)


def test_result_is_frozen() -> None:
    result = segment("hi")
    assert isinstance(result, Segmentation)
    with pytest.raises(AttributeError):
        result.segments = 2  # type: ignore[misc]


def test_encoding_of_matches_segment() -> None:
    assert encoding_of("plain") is GSM and encoding_of("€") is GSM
    assert encoding_of("naïve") is UCS  # ï is not in the default alphabet


# --- the reference: split the encoded units, then decode each part ------------------------

_SEPTET = {c: i for i, c in enumerate(GSM_TABLE) if c is not None}
_FROM_SEPTET = {i: c for c, i in _SEPTET.items()}
_FROM_EXT = {i: c for c, i in GSM_EXT.items()}


def _gsm_septets(text: str) -> list[int] | None:
    out: list[int] = []
    for ch in text:
        if ch in _SEPTET:
            out.append(_SEPTET[ch])
        elif ch in GSM_EXT:
            out += [ESC, GSM_EXT[ch]]
        else:
            return None
    return out


def _gsm_decode(septets: list[int]) -> str:
    out, i = [], 0
    while i < len(septets):
        if septets[i] == ESC:
            out.append(_FROM_EXT[septets[i + 1]])
            i += 2
        else:
            out.append(_FROM_SEPTET[septets[i]])
            i += 1
    return "".join(out)


def _chunks(units: list[int], single: int, part: int, cut_ok: object) -> list[list[int]]:
    if len(units) <= single:
        return [units]
    chunks, i = [], 0
    while i < len(units):
        end = min(i + part, len(units))
        if end < len(units) and not cut_ok(units[end - 1]):  # type: ignore[operator]
            end -= 1
        chunks.append(units[i:end])
        i = end
    return chunks


def reference_split(text: str) -> tuple[str, ...]:
    septets = _gsm_septets(text)
    if septets is not None:
        chunks = _chunks(septets, 160, 153, lambda last: last != ESC)
        return tuple(_gsm_decode(c) for c in chunks)
    raw = text.encode("utf-16-be")
    units = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    chunks = _chunks(units, 70, 67, lambda last: not 0xD800 <= last <= 0xDBFF)
    return tuple(b"".join(u.to_bytes(2, "big") for u in c).decode("utf-16-be") for c in chunks)


def test_reference_exhaustively_around_the_boundaries() -> None:
    # Lengths on both sides of each part boundary, one two-unit character at every position.
    gsm_lengths = [*range(151, 162, 2), 160, 305, 306, 307, 459, 460]
    ucs_lengths = [*range(65, 72, 2), 70, 133, 134, 135, 201]
    checked = 0
    for filler, special, lengths in (
        ("a", "€", gsm_lengths), ("a", "^", gsm_lengths[::3]),
        ("Ж", EMOJI, ucs_lengths), ("a", EMOJI, ucs_lengths[::2]),
    ):  # fmt: skip
        for length in lengths:
            base = filler * length
            assert segment(base).parts == reference_split(base)
            for pos in range(0, length + 1):
                text = base[:pos] + special + base[pos:]
                assert segment(text).parts == reference_split(text), (filler, special, pos)
                checked += 1
    assert checked > 5_000


def test_reference_on_random_mixes() -> None:
    rng = random.Random(20261201)
    alphabet = ["a", "Z", " ", "\n", "€", "[", "|", "é", "Ж", "ş", EMOJI, "🇮🇩"]
    weights = [30, 10, 10, 2, 3, 3, 2, 5, 2, 1, 1, 1]
    for _ in range(1500):
        size = rng.randint(1, 400)
        text = "".join(rng.choices(alphabet, weights, k=size))
        if rng.random() < 0.5:  # half of them pure GSM
            text = "".join(c for c in text if c in GSM7_BASIC or c in GSM7_EXTENSION) or "a"
        result = segment(text)
        expected = reference_split(text)
        assert result.parts == expected, text
        assert result.segments == len(expected)
