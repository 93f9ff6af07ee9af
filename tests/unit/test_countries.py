"""Country names in the user's language, and searching and sorting by them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.i18n.countries import country_name, country_names
from bot.provider.models import Country
from bot.services.catalog import CountryOffer, cheapest_first, matches


@pytest.mark.parametrize(
    ("name", "iso", "shown"),
    [
        ("India", "in", "Индия"),
        ("Indonesia", "id", "Индонезия"),
        ("USA", "us", "США"),
        ("Hong Kong", "HK", "Гонконг"),  # the short name people use, not "Гонконг (САР)"
        ("United Kingdom", "uk", "Великобритания"),  # "uk" is reserved for GB
        ("USA (virtual)", "us", "США (virtual)"),  # what the provider adds stays
        ("Myanmar (Burma)", "mm", "Мьянма"),  # CLDR's own English name, nothing added
    ],
)
def test_russian_names_come_from_the_iso_code(name: str, iso: str, shown: str) -> None:
    assert country_name(name, iso, "ru") == shown


@pytest.mark.parametrize(
    ("name", "iso"),
    [
        ("Kosovo (provider)", None),  # no code
        ("Virtual", "xx"),  # a code that names no country
        ("Europe", "eu"),  # a CLDR region, not a country
        ("Somewhere", "14"),  # a provider's id where the code should be
    ],
)
def test_without_a_country_code_the_providers_name_stays(name: str, iso: str | None) -> None:
    assert country_name(name, iso, "ru") == name


def test_english_keeps_the_providers_names() -> None:
    assert country_name("Hong Kong", "hk", "en") == "Hong Kong"
    assert country_name("USA", "us", "en-US") == "USA"


def test_other_languages_and_unknown_ones() -> None:
    assert country_name("India", "in", "uk") == "Індія"
    assert country_name("India", "in", "pt-BR") == "Índia"
    assert country_name("India", "in", "qq") == "India"


def test_two_countries_that_would_read_the_same_keep_the_providers_name_beside() -> None:
    countries = [
        Country(id="1", name="USA", iso="us"),
        Country(id="2", name="USA Virtual", iso="us"),
        Country(id="3", name="India", iso="in"),
    ]

    assert country_names(countries, "ru") == {
        "1": "США (USA)",
        "2": "США (USA Virtual)",
        "3": "Индия",
    }
    assert country_names(countries, "en") == {"1": "USA", "2": "USA Virtual", "3": "India"}


@pytest.mark.parametrize("query", ["инд", "ИНДИЯ", "ind", "India", "in"])
def test_search_finds_a_country_by_its_shown_or_providers_name_or_code(query: str) -> None:
    assert matches(query, "Индия", "in", aliases=["India"])


def test_search_treats_yo_as_ye_and_plain_apostrophes_as_typographic_ones() -> None:
    assert matches("теркс", "Тёркс и Кайкос", "tc", aliases=["Turks & Caicos Islands"])
    assert matches("кот-д'ив", "Кот-д’Ивуар", "ci", aliases=["Ivory Coast"])


def test_a_code_is_found_only_exactly() -> None:
    assert not matches("i", "Индия", "in")
    assert not matches("xn", "Индия", "in", aliases=["India"])


def test_equal_prices_sort_by_the_shown_name() -> None:
    offers = [
        CountryOffer(Country(id=str(n), name=name, iso=iso), Decimal("10"), 5)
        for n, (name, iso) in enumerate(
            [("Azerbaijan", "az"), ("Estonia", "ee"), ("Yemen", "ye"), ("Vietnam", "vn")]
        )
    ]
    names = country_names((offer.country for offer in offers), "ru")

    in_russian = [names[offer.country.id] for offer in cheapest_first(offers, names)]
    in_english = [offer.country.name for offer in cheapest_first(offers)]

    assert in_russian == ["Азербайджан", "Вьетнам", "Йемен", "Эстония"]
    assert in_english == ["Azerbaijan", "Estonia", "Vietnam", "Yemen"]


def test_in_stock_and_cheaper_come_before_the_name() -> None:
    def offer(name: str, price: str, stock: int) -> CountryOffer:
        return CountryOffer(Country(id=name, name=name), Decimal(price), stock)

    offers = [offer("A", "5", 0), offer("B", "9", 3), offer("C", "7", 3)]

    assert [o.country.name for o in cheapest_first(offers)] == ["C", "B", "A"]
