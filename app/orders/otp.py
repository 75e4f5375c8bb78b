"""Finding the one-time code in an SMS text.

Codes are 4-8 ASCII digits, possibly written in two groups (`740-279`, `740 279`) or behind
a letter prefix (`G-123456`). When a text holds several numbers, the one nearest after a
word like "code"/"kode"/"OTP" wins; otherwise the first. Numbers that are part of
something longer are never codes: phone numbers (also in spaced groups), dates (with
`/`, `-` or `.`), times, amounts with separators, decimals.
"""

import re

_CANDIDATE = re.compile(
    r"(?<![\w.,+/-])"  # not glued to a word, a decimal, a sign or a date
    r"(?<![0-9][ -])"  # not the tail of a spaced or dashed digit group (phone numbers)
    r"(?:[A-Za-z]{1,3}-)?"  # G-123456
    r"([0-9]{3,4}[- ][0-9]{3,4}|[0-9]{4,8})"
    r"(?![\w/]|[.,-]?[0-9])"  # not followed by more of a number or a date
    r"(?![ -][0-9])"  # not the head of a longer digit group
)
_KEYWORD = re.compile(
    r"(?<![a-z])(?:code|kode|kod|c[oó]digo|otp|pin|passcode|password|verification|verifikasi)"
    r"|код|รหัส",
    re.IGNORECASE,
)


def extract_code(text: str | None) -> str | None:
    if not text:
        return None
    candidates = []
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[^0-9]", "", match.group(1))
        if 4 <= len(digits) <= 8:
            candidates.append((match.start(), digits))
    if not candidates:
        return None
    keywords = [m.end() for m in _KEYWORD.finditer(text)]
    if not keywords:
        return candidates[0][1]

    def distance(candidate: tuple[int, str]) -> int:
        start = candidate[0]
        after = [start - k for k in keywords if k <= start]
        before = [k - start + 1000 for k in keywords if k > start]
        # A code after its keyword ("code: 1234") beats one before it ("1234 is your code").
        return min(after + before)

    return min(candidates, key=distance)[1]
