"""Country names in the user's language, from the ISO code (Babel's CLDR territory names).

SMS-man names countries in English only. A country whose ISO 3166-1 code names a territory is
shown by that territory's name in the user's language ("in" → "Индия"); a country without a
code, or with one that names no country, keeps the provider's name. English keeps the
provider's names: they are English already, and CLDR's are often longer ("Hong Kong SAR
China") or merge what the provider tells apart.

What the provider adds in parentheses ("USA (virtual)") stays on the localized name, and
`country_names` tells apart two countries of one list that would read the same. Pure: Babel's
locale data is loaded once per language and kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from bot.provider.models import Country

PROVIDER_LANGUAGE = "en"
"""The language of the provider's country names."""

# CLDR regions that are no country a number can come from.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})
# Codes providers use that ISO reserves for another one ("uk" for the United Kingdom).
_ISO_ALIASES = {"UK": "GB"}
# The shorter names people use and search for where CLDR's main name is long (CLDR keeps
# some of them as "short" variants, which Babel does not ship).
_SHORT_NAMES: Mapping[str, Mapping[str, str]] = {
    "ru": {
        "HK": "Гонконг",
        "MM": "Мьянма",
        "MO": "Макао",
        "PS": "Палестина",
        "US": "США",
        "ZA": "ЮАР",
    },
}


def country_name(name: str, iso: str | None, language: str) -> str:
    """The name to show for the provider's country `name` with ISO code `iso`."""
    if _base_language(language) == PROVIDER_LANGUAGE:
        return name
    territory = territory_name(iso, language)
    if territory is None:
        return name
    qualifier = _qualifier(name)
    if qualifier and not (territory_name(iso, PROVIDER_LANGUAGE) or "").endswith(qualifier):
        return f"{territory} {qualifier}"
    return territory


def country_names(countries: Iterable[Country], language: str) -> dict[str, str]:
    """The shown name of each country by id. Countries of the list that would read the same
    (two provider names for one code) keep their provider's name beside it: "США (USA)"."""
    countries = list(countries)
    shown = {country.id: country_name(country.name, country.iso, language) for country in countries}
    providers_names: dict[str, set[str]] = {}
    for country in countries:
        providers_names.setdefault(shown[country.id].casefold(), set()).add(country.name)
    for country in countries:
        name = shown[country.id]
        if len(providers_names[name.casefold()]) > 1 and name != country.name:
            shown[country.id] = f"{name} ({country.name})"
    return shown


def territory_name(iso: str | None, language: str) -> str | None:
    """CLDR's name in `language` of the country with ISO code `iso`; None for a missing code,
    one that names no country, or an unknown language."""
    if not iso:
        return None
    code = iso.strip().upper()
    code = _ISO_ALIASES.get(code, code)
    if len(code) != 2 or not code.isalpha() or code in _NOT_COUNTRIES:
        return None
    short = _SHORT_NAMES.get(_base_language(language), {}).get(code)
    return short or _territories(language).get(code)


@lru_cache(maxsize=16)  # one entry per language the bot speaks
def _territories(language: str) -> Mapping[str, str]:
    """Babel's territory names for `language` (loading a locale takes milliseconds)."""
    try:
        return dict(Locale.parse(language.replace("-", "_")).territories)
    except (UnknownLocaleError, ValueError):
        return {}


def _base_language(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def _qualifier(name: str) -> str:
    """What the provider adds in parentheses at the end of a name: "(virtual)"."""
    name = name.strip()
    start = name.rfind("(")
    return name[start:] if start > 0 and name.endswith(")") else ""
