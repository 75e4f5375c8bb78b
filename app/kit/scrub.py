"""Redact secrets from log events: the last line of defense, not a licence to log them.

Three nets: known secret values (from Settings: the admin token, provider keys, database
passwords), fields whose name says secret (token, secret, password, api_key,
authorization, signature), and shapes that are secrets wherever they appear (bearer
headers, our `sg_` API tokens, `api_key=` style parameters, passwords in URLs, JSON
`"…secret": "…"` pairs).
"""

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"

SECRET_NAME = re.compile(
    r"(?i)(?:^|_|-)(token|secret|password|passwd|api_?key|apikey|authorization|signature|"
    r"credentials?|private_?key)(?:$|_|-)|^key$"
)
# Secrets that are too short are left alone: redacting "1" everywhere helps nobody.
MIN_KNOWN_LENGTH = 6

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)[^\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bsg_[A-Za-z0-9_\-]{8,}"), f"sg_{REDACTED}"),
    (
        re.compile(
            r"(?i)(?<![A-Za-z0-9_])((?:api[_-]?key|apikey|key|access_token|token|secret|"
            r"password|passwd|signature|sig)=)[^&\s\"',;]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/\s@]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    (
        re.compile(
            r"(?i)(\"[a-z0-9_\-]*(?:secret|token|password|api_?key|signature)\"\s*:\s*\")"
            r"(?:[^\"\\]|\\.)*\""
        ),
        rf'\1{REDACTED}"',
    ),
)
# A cheap test before the substitutions: most strings have none of these.
_MAYBE = r"(?i:bearer|authorization|token|sg_|key|secret|passw|sig|://)"


# Fields the logging setup and the access line fill from code, never from input or secrets.
TRUSTED_FIELDS = frozenset({"timestamp", "level", "logger", "pid", "route", "method"})


@lru_cache(maxsize=4096)
def secret_name(key: str) -> bool:
    return SECRET_NAME.search(key) is not None


class Scrubber:
    def __init__(self, known: Iterable[str] = ()) -> None:
        values = sorted({v for v in known if v and len(v) >= MIN_KNOWN_LENGTH}, key=len)
        # Longest first, so a secret containing another is redacted whole.
        pattern = "|".join(re.escape(v) for v in reversed(values))
        self.known = re.compile(pattern) if values else None
        self.trigger = re.compile(f"{_MAYBE}|{pattern}" if values else _MAYBE)

    def text(self, value: str) -> str:
        if self.trigger.search(value) is None:
            return value
        if self.known is not None:
            value = self.known.sub(REDACTED, value)
        for pattern, replacement in _SHAPES:
            value = pattern.sub(replacement, value)
        return value

    def value(self, value: Any, key: str | None = None) -> Any:
        kind = type(value)
        if kind is int or kind is float or kind is bool or value is None:
            return value
        if key is not None and kind in (str, bytes) and secret_name(key):
            return REDACTED if value else value
        if kind is str:
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        if isinstance(value, str):
            return self.text(str(value))
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if isinstance(value, int | float):
            return value
        return self.text(str(value))  # whatever it renders as, rendered safely

    def event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: value if key in TRUSTED_FIELDS else self.value(value, key)
            for key, value in event.items()
        }
