"""Recipients of an outbound SMS: parsed to E.164 and accepted only when they can receive one.

The API takes `to` as E.164 (`+` and digits) and rejects invalid or non-mobile numbers with
422 naming each bad index. "Mobile" is what libphonenumber calls MOBILE, plus
FIXED_LINE_OR_MOBILE: in the NANP countries (US, CA, ...) and a few others the two ranges
cannot be told apart, and rejecting them would reject every number there.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

_E164 = re.compile(r"\+[0-9]+")
_MAX_DIGITS = 15  # ITU-T E.164
_ACCEPTED = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "a fixed line",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.VOIP: "a VoIP number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal number",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.UAN: "a corporate (UAN) number",
    PhoneNumberType.VOICEMAIL: "a voicemail number",
}


@dataclass(frozen=True, slots=True)
class Recipient:
    e164: str  # canonical: "+4407911123456" comes back as "+447911123456"
    country: str  # ISO 3166-1 alpha-2 of the number's region, e.g. "ID"


class InvalidRecipient(ValueError):
    """One number that cannot receive an SMS; `reason` is safe to show the client."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class InvalidRecipients(ValueError):
    """Every bad number of a list, by 0-based index (the service maps it to 422)."""

    def __init__(self, reasons: Mapping[int, str]) -> None:
        self.reasons = dict(sorted(reasons.items()))
        super().__init__("; ".join(f"to[{i}]: {r}" for i, r in self.reasons.items()))

    def details(self) -> dict[str, dict[str, str]]:
        """The API's `details` shape: `{"to": {"<index>": "<reason>"}}`."""
        return {"to": {str(i): reason for i, reason in self.reasons.items()}}


def parse_recipient(raw: str) -> Recipient:
    if not raw.startswith("+"):
        raise InvalidRecipient("must be in E.164 format: + then the country code and number")
    if not _E164.fullmatch(raw):
        raise InvalidRecipient("must be + followed by digits only (no spaces or dashes)")
    if len(raw) - 1 > _MAX_DIGITS:
        raise InvalidRecipient(f"is too long: E.164 numbers have at most {_MAX_DIGITS} digits")
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidRecipient("is not a phone number: unknown country code") from None
        raise InvalidRecipient("is not a phone number: too short") from None
    region = phonenumbers.region_code_for_number(number)
    if not phonenumbers.is_valid_number(number) or region in (None, "001", "ZZ"):
        raise InvalidRecipient("is not a valid phone number")
    kind = phonenumbers.number_type(number)
    if kind not in _ACCEPTED:
        raise InvalidRecipient(f"is not a mobile number ({_TYPE_NAMES.get(kind, 'unknown type')})")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Recipient(e164=e164, country=region)


def parse_recipients(raw: Sequence[str]) -> list[Recipient]:
    """Parse every number; raises InvalidRecipients listing all the bad ones at once."""
    parsed: list[Recipient] = []
    reasons: dict[int, str] = {}
    for index, value in enumerate(raw):
        try:
            parsed.append(parse_recipient(value))
        except InvalidRecipient as exc:
            reasons[index] = exc.reason
    if reasons:
        raise InvalidRecipients(reasons)
    return parsed
