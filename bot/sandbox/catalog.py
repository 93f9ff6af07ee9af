"""What the sandbox sells: countries, services and an offer (price, stock) per pair.

Each country and service carries both id systems, because the two protocols number them
differently: the v2 API uses its own numeric ids (India is 14), the compatible API uses the
sms-activate country numbers (India is 22, Russia is 0) and string service codes (`tg`).

The catalog is generated from a seed, so every run (and every test) sees the same prices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True, slots=True)
class Country:
    v2_id: int
    compat_id: int
    iso: str  # ISO 3166-1 alpha-2, lower case
    name: str  # English
    name_ru: str
    dial_code: str  # without "+"
    mobile_prefix: str  # first digits of a mobile number after the dial code
    national_length: int  # digits after the dial code
    price_factor: float


@dataclass(frozen=True, slots=True)
class Service:
    v2_id: int
    code: str  # the compatible API's service id
    name: str
    name_ru: str
    base_price: float  # RUB, before the country factor


@dataclass(slots=True)
class Offer:
    cost: Decimal  # RUB
    count: int  # numbers in stock


# v2 id, compat id, ISO, English, Russian, dial code, mobile prefix, national length, factor
_COUNTRIES: tuple[tuple[int, int, str, str, str, str, str, int, float], ...] = (
    (1, 0, "ru", "Russia", "Россия", "7", "9", 10, 1.6),
    (2, 1, "ua", "Ukraine", "Украина", "380", "9", 9, 1.2),
    (3, 2, "kz", "Kazakhstan", "Казахстан", "7", "70", 10, 1.1),
    (4, 3, "cn", "China", "Китай", "86", "13", 11, 1.4),
    (5, 4, "ph", "Philippines", "Филиппины", "63", "9", 10, 0.6),
    (6, 5, "mm", "Myanmar", "Мьянма", "95", "9", 9, 0.5),
    (7, 6, "id", "Indonesia", "Индонезия", "62", "8", 11, 0.5),
    (8, 7, "my", "Malaysia", "Малайзия", "60", "1", 10, 0.8),
    (9, 8, "ke", "Kenya", "Кения", "254", "7", 9, 0.6),
    (10, 9, "tz", "Tanzania", "Танзания", "255", "7", 9, 0.5),
    (11, 10, "vn", "Vietnam", "Вьетнам", "84", "9", 9, 0.6),
    (12, 11, "kg", "Kyrgyzstan", "Киргизия", "996", "7", 9, 0.8),
    (13, 187, "us", "United States", "США", "1", "", 10, 1.8),
    (14, 22, "in", "India", "Индия", "91", "9", 10, 0.6),
    (15, 13, "il", "Israel", "Израиль", "972", "5", 9, 1.7),
    (16, 14, "hk", "Hong Kong", "Гонконг", "852", "6", 8, 1.5),
    (17, 15, "pl", "Poland", "Польша", "48", "5", 9, 1.5),
    (18, 16, "gb", "United Kingdom", "Великобритания", "44", "7", 10, 1.9),
    (19, 19, "ng", "Nigeria", "Нигерия", "234", "80", 10, 0.5),
    (20, 21, "eg", "Egypt", "Египет", "20", "10", 10, 0.6),
    (21, 23, "ie", "Ireland", "Ирландия", "353", "8", 9, 1.8),
    (22, 24, "kh", "Cambodia", "Камбоджа", "855", "9", 9, 0.5),
    (23, 29, "rs", "Serbia", "Сербия", "381", "6", 9, 1.1),
    (24, 31, "za", "South Africa", "ЮАР", "27", "7", 9, 0.9),
    (25, 32, "ro", "Romania", "Румыния", "40", "7", 9, 1.2),
    (26, 33, "co", "Colombia", "Колумбия", "57", "3", 10, 0.7),
    (27, 34, "ee", "Estonia", "Эстония", "372", "5", 8, 1.6),
    (28, 35, "az", "Azerbaijan", "Азербайджан", "994", "5", 9, 0.9),
    (29, 36, "ca", "Canada", "Канада", "1", "", 10, 1.8),
    (30, 37, "ma", "Morocco", "Марокко", "212", "6", 9, 0.7),
    (31, 38, "gh", "Ghana", "Гана", "233", "2", 9, 0.6),
    (32, 39, "ar", "Argentina", "Аргентина", "54", "9", 10, 0.8),
    (33, 40, "uz", "Uzbekistan", "Узбекистан", "998", "9", 9, 0.7),
    (34, 41, "cm", "Cameroon", "Камерун", "237", "6", 9, 0.5),
    (35, 43, "de", "Germany", "Германия", "49", "15", 11, 2.2),
    (36, 44, "lt", "Lithuania", "Литва", "370", "6", 8, 1.4),
    (37, 45, "hr", "Croatia", "Хорватия", "385", "9", 9, 1.3),
    (38, 46, "se", "Sweden", "Швеция", "46", "7", 9, 2.0),
    (39, 48, "nl", "Netherlands", "Нидерланды", "31", "6", 9, 2.0),
    (40, 49, "lv", "Latvia", "Латвия", "371", "2", 8, 1.4),
    (41, 50, "at", "Austria", "Австрия", "43", "6", 10, 2.0),
    (42, 51, "by", "Belarus", "Беларусь", "375", "29", 9, 1.0),
    (43, 52, "th", "Thailand", "Таиланд", "66", "8", 9, 0.8),
    (44, 53, "sa", "Saudi Arabia", "Саудовская Аравия", "966", "5", 9, 1.3),
    (45, 54, "mx", "Mexico", "Мексика", "52", "1", 10, 0.9),
    (46, 55, "tw", "Taiwan", "Тайвань", "886", "9", 9, 1.3),
    (47, 56, "es", "Spain", "Испания", "34", "6", 9, 1.9),
    (48, 60, "bd", "Bangladesh", "Бангладеш", "880", "1", 10, 0.5),
    (49, 62, "tr", "Turkey", "Турция", "90", "5", 10, 1.1),
    (50, 63, "cz", "Czech Republic", "Чехия", "420", "7", 9, 1.6),
    (51, 65, "pe", "Peru", "Перу", "51", "9", 9, 0.7),
    (52, 66, "pk", "Pakistan", "Пакистан", "92", "3", 10, 0.5),
    (53, 73, "br", "Brazil", "Бразилия", "55", "11", 11, 0.9),
    (54, 78, "fr", "France", "Франция", "33", "6", 9, 2.1),
    (55, 86, "it", "Italy", "Италия", "39", "3", 10, 1.9),
    (56, 117, "pt", "Portugal", "Португалия", "351", "9", 9, 1.7),
    (57, 128, "ge", "Georgia", "Грузия", "995", "5", 9, 1.0),
    (58, 151, "cl", "Chile", "Чили", "56", "9", 9, 0.9),
    (59, 163, "fi", "Finland", "Финляндия", "358", "4", 9, 2.0),
    (60, 95, "ae", "United Arab Emirates", "ОАЭ", "971", "5", 9, 1.6),
)

# v2 id, compat code, English name, Russian name, base price (RUB)
_SERVICES: tuple[tuple[int, str, str, str, float], ...] = (
    (1, "vk", "VKontakte", "ВКонтакте", 18.0),
    (2, "wb", "WeChat", "WeChat", 45.0),
    (3, "tg", "Telegram", "Telegram", 60.0),
    (4, "wa", "WhatsApp", "WhatsApp", 40.0),
    (5, "go", "Google, Gmail, YouTube", "Google, Gmail, YouTube", 12.0),
    (6, "fb", "Facebook", "Facebook", 10.0),
    (7, "ig", "Instagram", "Instagram", 8.0),
    (8, "lf", "TikTok", "TikTok", 9.0),
    (9, "tw", "Twitter / X", "Twitter / X", 8.0),
    (10, "vi", "Viber", "Viber", 7.0),
    (11, "ok", "Odnoklassniki", "Одноклассники", 6.0),
    (12, "ub", "Uber", "Uber", 7.0),
    (13, "am", "Amazon", "Amazon", 10.0),
    (14, "mm", "Microsoft", "Microsoft", 7.0),
    (15, "wx", "Apple", "Apple", 12.0),
    (16, "ds", "Discord", "Discord", 9.0),
    (17, "dr", "OpenAI", "OpenAI", 14.0),
    (18, "oi", "Tinder", "Tinder", 11.0),
    (19, "av", "Avito", "Авито", 10.0),
    (20, "ya", "Yandex", "Яндекс", 8.0),
    (21, "ma", "Mail.ru", "Mail.ru", 5.0),
    (22, "nf", "Netflix", "Netflix", 6.0),
    (23, "ts", "PayPal", "PayPal", 12.0),
    (24, "mb", "Yahoo", "Yahoo", 5.0),
    (25, "me", "Line", "Line", 9.0),
    (26, "kt", "KakaoTalk", "KakaoTalk", 14.0),
    (27, "bw", "Signal", "Signal", 10.0),
    (28, "sn", "OLX", "OLX", 6.0),
    (29, "ot", "Any other", "Любой другой", 5.0),
)

# Countries where every service is on sale with numbers in stock, so demos and tests always
# find something to buy there.
_FULLY_STOCKED = frozenset({1, 13, 14, 18})
_QUARTER = Decimal("0.25")
_CENT = Decimal("0.01")


def _price(base: float, factor: float, rng: random.Random) -> Decimal:
    raw = Decimal(str(round(base * factor * rng.uniform(0.8, 1.25), 4)))
    quarters = (raw / _QUARTER).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(quarters * _QUARTER, Decimal(2)).quantize(_CENT)


def _stock(rng: random.Random) -> int:
    band = rng.random()
    if band < 0.12:
        return 0
    if band < 0.30:
        return rng.randint(1, 60)
    if band < 0.75:
        return rng.randint(60, 3000)
    return rng.randint(3000, 60000)


class Catalog:
    """Countries, services and offers, with lookups by either protocol's ids."""

    def __init__(self, seed: int = 0) -> None:
        rng = random.Random(f"sandbox-catalog-{seed}")
        self.countries: tuple[Country, ...] = tuple(Country(*row) for row in _COUNTRIES)
        self.services: tuple[Service, ...] = tuple(Service(*row) for row in _SERVICES)
        self.country_by_v2: dict[int, Country] = {c.v2_id: c for c in self.countries}
        self.country_by_compat: dict[int, Country] = {c.compat_id: c for c in self.countries}
        self.service_by_v2: dict[int, Service] = {s.v2_id: s for s in self.services}
        self.service_by_code: dict[str, Service] = {s.code: s for s in self.services}
        self.offers: dict[tuple[int, int], Offer] = {}
        for country in self.countries:
            stocked = country.v2_id in _FULLY_STOCKED
            for service in self.services:
                if not stocked and rng.random() < 0.2:
                    continue  # not sold there at all
                cost = _price(service.base_price, country.price_factor, rng)
                count = _stock(rng)
                if stocked and count == 0:
                    count = rng.randint(100, 5000)
                self.offers[(country.v2_id, service.v2_id)] = Offer(cost, count)

    def offer(self, country: Country, service: Service) -> Offer | None:
        return self.offers.get((country.v2_id, service.v2_id))

    def set_offer(self, country: Country, service: Service, cost: Decimal, count: int) -> Offer:
        """Create or change the offer of one pair (tests use it to force prices and stock)."""
        offer = Offer(cost.quantize(_CENT), count)
        self.offers[(country.v2_id, service.v2_id)] = offer
        return offer

    def cheapest(self, service: Service) -> tuple[Country, Offer] | None:
        """The cheapest country with stock for a service ("any country" purchases)."""
        best: tuple[Country, Offer] | None = None
        for country in self.countries:
            offer = self.offers.get((country.v2_id, service.v2_id))
            if offer is None or offer.count <= 0:
                continue
            if best is None or offer.cost < best[1].cost:
                best = (country, offer)
        return best
