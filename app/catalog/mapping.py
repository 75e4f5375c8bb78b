"""Mapping a provider's own countries and services onto the canonical catalog.

Countries map to ISO 3166-1 alpha-2 codes, services to normalized slugs. The order of
authority: a mapping ops wrote (`catalog_mappings.source = 'ops'`), then what the provider
states (`iso_code`, `slug`), then an exact lookup: a country name must be an ISO name,
official name or common name (or one of a few well-known aliases below), never a fuzzy
match. What cannot be resolved stays unmapped and is reported, so a wrong guess never
puts a number of one country under another.
"""

import re
from dataclasses import dataclass

import phonenumbers
import pycountry
from slugify import slugify

from app.providers.base import CountryInfo, ServiceInfo

# Names providers use that ISO does not list (lower case → alpha-2).
COUNTRY_ALIASES = {
    "england": "GB",
    "great britain": "GB",
    "uk": "GB",
    "united kingdom": "GB",
    "usa": "US",
    "america": "US",
    "united states of america": "US",
    "russia": "RU",
    "turkey": "TR",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "macau": "MO",
    "macao": "MO",
    "palestine": "PS",
    "kosovo": "XK",
    "south korea": "KR",
    "north korea": "KP",
    "czechia": "CZ",
    "burma": "MM",
    "swaziland": "SZ",
    "cape verde": "CV",
    "east timor": "TL",
}

_ISO = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True, slots=True)
class CanonicalCountry:
    code: str
    name: str
    dial_code: str
    emoji: str | None


def country_by_name(name: str) -> str | None:
    cleaned = " ".join(name.replace("_", " ").split()).strip()
    if not cleaned:
        return None
    alias = COUNTRY_ALIASES.get(cleaned.lower())
    if alias:
        return alias
    try:
        found = pycountry.countries.lookup(cleaned)
    except LookupError:
        return None
    return str(found.alpha_2)


def resolve_country(info: CountryInfo) -> str | None:
    """ISO alpha-2 for a provider's country (what it states, else its exact name), or None
    when it cannot be told for sure. An ops mapping is applied before this (app.catalog.sync)."""
    if info.iso_code and _ISO.match(info.iso_code):
        return info.iso_code.upper()
    return country_by_name(info.name)


def canonical_country(iso: str, info: CountryInfo | None = None) -> CanonicalCountry | None:
    """Name, dial code and flag for a new canonical country row (None: not a real code)."""
    record = pycountry.countries.get(alpha_2=iso)
    if record is None and iso != "XK":
        return None
    name = getattr(record, "common_name", None) or getattr(record, "name", None) or "Kosovo"
    dial = (info.dial_code if info and info.dial_code else None) or str(
        phonenumbers.country_code_for_region(iso) or ""
    )
    if not dial or dial == "0":
        return None
    emoji = (info.emoji if info else None) or getattr(record, "flag", None)
    return CanonicalCountry(iso, str(name), dial.lstrip("+"), emoji)


def service_slug(name: str) -> str | None:
    """The normalized slug of a service name: "WhatsApp" → "whatsapp", "OpenAI / ChatGPT"
    → "openai-chatgpt"; None when nothing is left."""
    slug = slugify(name, max_length=64, word_boundary=True)
    return slug or None


def resolve_service(info: ServiceInfo) -> str | None:
    return info.slug or service_slug(info.name)
