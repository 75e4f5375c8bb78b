"""Finding the one-time code in an SMS text.

Codes are 4-8 digits, possibly written in two groups (`740-279`, `740 279`) or behind a
letter prefix (`G-123456`). When a text holds several numbers, the one nearest after a
word like "code"/"kode"/"OTP" wins; otherwise the first. Longer digit runs (phone numbers,
amounts with separators) are never codes.
"""

import re

_CANDIDATE = re.compile(
    r"(?<![\w.,+-])"  # not glued to a word, a decimal, a sign or another number
    r"(?:[A-Z]{1,3}-)?"  # G-123456
    r"(\d{3,4}[- ]\d{3,4}|\d{4,8})"
    r"(?![\w.,-]?\d)(?![\w])"
)
_KEYWORD = re.compile(
    r"code|kode|kod|c[oó]digo|otp|pin|passcode|password|verification|verifikasi|код|รหัส",
    re.IGNORECASE,
)


def extract_code(text: str | None) -> str | None:
    if not text:
        return None
    candidates = []
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", match.group(1))
        if 4 <= len(digits) <= 8:
            candidates.append((match.start(), digits))
    if not candidates:
        return None
    keywords = [m.end() for m in _KEYWORD.finditer(text)]
    if keywords:

        def distance(candidate: tuple[int, str]) -> int:
            start = candidate[0]
            after = [start - k for k in keywords if k <= start]
            before = [k - start for k in keywords if k > start]
            # A code after its keyword ("code: 1234") beats one before it ("1234 is your code").
            return min([d for d in after] + [d + 1000 for d in before])

        return min(candidates, key=distance)[1]
    return candidates[0][1]
