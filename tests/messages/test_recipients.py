import pytest

from app.messages.recipients import (
    InvalidRecipient,
    InvalidRecipients,
    Recipient,
    parse_recipient,
    parse_recipients,
)

ACCEPTED = [
    # raw, e164, country
    ("+62812345678", "+62812345678", "ID"),  # Telkomsel
    ("+6281234567890", "+6281234567890", "ID"),  # 13 digits: still a valid ID mobile
    ("+447400123456", "+447400123456", "GB"),
    ("+4915123456789", "+4915123456789", "DE"),
    ("+79123456789", "+79123456789", "RU"),
    ("+905321234567", "+905321234567", "TR"),
    ("+5511961234567", "+5511961234567", "BR"),
    ("+393123456789", "+393123456789", "IT"),
    ("+6591234567", "+6591234567", "SG"),
    ("+60123456789", "+60123456789", "MY"),
    # FIXED_LINE_OR_MOBILE: NANP, and Mexico and parts of India, cannot be told apart
    ("+12015550123", "+12015550123", "US"),
    ("+522221234567", "+522221234567", "MX"),
    ("+917410410123", "+917410410123", "IN"),
    # a trunk 0 after the country code is a common slip; libphonenumber drops it
    ("+4407400123456", "+447400123456", "GB"),
]


@pytest.mark.parametrize(("raw", "e164", "country"), ACCEPTED)
def test_accepted(raw: str, e164: str, country: str) -> None:
    assert parse_recipient(raw) == Recipient(e164=e164, country=country)


REJECTED = [
    # raw, a distinctive part of the reason
    ("62812345678", "E.164 format"),
    ("0812345678", "E.164 format"),
    ("", "E.164 format"),
    (" +62812345678", "E.164 format"),
    ("+62 812 345 678", "digits only"),
    ("+62-812-345-678", "digits only"),
    ("+62812345678 ", "digits only"),
    ("+628123456ab", "digits only"),
    ("++62812345678", "digits only"),
    ("+", "digits only"),
    ("+١٢٣٤٥٦٧٨٩", "digits only"),  # Arabic-Indic digits are not E.164 digits
    ("+6281234567890123", "at most 15 digits"),
    ("+1", "too short"),
    ("+999123456", "unknown country code"),
    ("+0123456789", "unknown country code"),
    ("+6221123456", "not a valid phone number"),  # Jakarta, a digit short
    ("+8823456789", "not a valid phone number"),  # international network, no country
    ("+441212345678", "not a mobile number (a fixed line)"),
    ("+62218350123", "not a mobile number (a fixed line)"),
    ("+18005550199", "not a mobile number (a toll-free number)"),
    ("+449012345678", "not a mobile number (a premium-rate number)"),
    ("+445612345678", "not a mobile number (a VoIP number)"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected(raw: str, reason: str) -> None:
    with pytest.raises(InvalidRecipient) as caught:
        parse_recipient(raw)
    assert reason in caught.value.reason
    assert caught.value.reason.startswith(("must", "is"))  # reads after "to[i] "


def test_list_parses_in_order() -> None:
    got = parse_recipients(["+62812345678", "+12015550123"])
    assert [r.e164 for r in got] == ["+62812345678", "+12015550123"]
    assert [r.country for r in got] == ["ID", "US"]


def test_list_names_every_bad_index() -> None:
    raw = ["+62812345678", "0812", "+441212345678", "+12015550123", "+62 812"]
    with pytest.raises(InvalidRecipients) as caught:
        parse_recipients(raw)
    err = caught.value
    assert sorted(err.reasons) == [1, 2, 4]
    details = err.details()
    assert list(details) == ["to"] and list(details["to"]) == ["1", "2", "4"]
    assert "fixed line" in details["to"]["2"]
    assert "to[1]" in str(err) and "to[4]" in str(err)


def test_empty_list_is_not_an_error_here() -> None:
    # 1..100 recipients is the request schema's rule; the parser just parses.
    assert parse_recipients([]) == []
