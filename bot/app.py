"""Factories: the bot, the dispatcher, and the lifespan of everything they share.

`open_app` opens Redis, the HTTP client and the providers, builds the stores and use cases,
and closes all of it on exit. Handlers receive its parts by name through the Dispatcher's
workflow data (`tokens`, `purchase`, `activation_service`, `catalog`, `admin`, `users`, …).

Every provider request of the process waits for one `ProviderBudget`: the use cases'
providers in its interactive lane (a tap goes first), the watcher's in its background lane
(`background_provider`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from redis.asyncio import BlockingConnectionPool, Redis

from bot.config import Settings
from bot.provider.base import Provider
from bot.provider.budget import ProviderBudget
from bot.provider.factory import create_budget, create_former_provider, create_provider
from bot.provider.http import create_http_client
from bot.services.activations import ActivationService
from bot.services.admin import AdminService
from bot.services.balances import Balances
from bot.services.catalog import Catalog
from bot.services.favourites import FavouritesService
from bot.services.purchase import PurchaseService
from bot.services.reachability import Reachability
from bot.services.replace import ReplaceService
from bot.services.tokens import TokenService
from bot.store.activations import ActivationStore
from bot.store.balances import BalanceStore
from bot.store.blocked import BlockedStore
from bot.store.catalog import CatalogCache
from bot.store.client import PipeliningRedis
from bot.store.conversations import ConversationStore
from bot.store.crypto import TokenCipher, load_or_create_key
from bot.store.early_cancel import EarlyCancelStore
from bot.store.favourites import FavouriteStore
from bot.store.notices import NoticeStore
from bot.store.users import UserStore
from bot.telegram.flood import FloodWait
from bot.telegram.responses import KeepResponseTypes
from handlers import setup_dispatcher
from handlers.fsm import ConversationStorage

logger = logging.getLogger(__name__)


@dataclass
class App:
    """Everything a running bot or watcher process shares."""

    settings: Settings
    redis: Redis
    watcher_redis: Redis
    http: httpx.AsyncClient
    budget: ProviderBudget
    provider: Provider  # interactive: what users' taps cause
    former_provider: Provider | None  # the other protocol's, for numbers bought over it
    background_provider: Provider  # the same, in the budget's background lane: the watcher's
    background_former_provider: Provider | None
    cipher: TokenCipher
    users: UserStore
    activations: ActivationStore
    catalog: Catalog
    tokens: TokenService
    purchase: PurchaseService
    activation_service: ActivationService
    replace: ReplaceService
    favourites: FavouritesService
    balances: Balances
    early_cancel: EarlyCancelStore
    admin: AdminService
    reachability: Reachability

    def workflow_data(self) -> dict[str, Any]:
        """What handlers can ask for by parameter name."""
        return {
            "settings": self.settings,
            "users": self.users,
            "activations": self.activations,
            "catalog": self.catalog,
            "tokens": self.tokens,
            "purchase": self.purchase,
            "activation_service": self.activation_service,
            "replace": self.replace,
            "favourites": self.favourites,
            "admin": self.admin,
            "reachability": self.reachability,
        }


UPDATE_REDIS_CONNECTIONS = 64
"""Connections of the client that serves updates; at most UPDATES_IN_FLIGHT use it at once."""

WATCHER_REDIS_CONNECTIONS = 64
"""The watcher's own client (its checks, deliveries and claims are bounded below that), so
a burst of taps never starves the watcher of connections, nor the reverse."""

REDIS_POOL_WAIT = 20.0
"""How long a command waits for a free pooled connection before it fails."""


def create_redis(url: str, *, max_connections: int = UPDATE_REDIS_CONNECTIONS) -> Redis:
    """A client whose pool makes callers wait for a free connection instead of failing
    (redis-py's default pool raises `MaxConnectionsError` when it is full), and which sends
    the commands that tasks issue together as one pipeline (`PipeliningRedis`)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=REDIS_POOL_WAIT,
        decode_responses=True,
        health_check_interval=30,
    )
    return PipeliningRedis.from_pool(pool)


def build_app(
    settings: Settings,
    redis: Redis,
    *,
    http: httpx.AsyncClient | None = None,
    cipher: TokenCipher | None = None,
    watcher_redis: Redis | None = None,
) -> App:
    """Assemble the parts over an open Redis client (tests call this directly); the watcher
    uses `watcher_redis`, by default the same client."""
    http = http or create_http_client(total_timeout=settings.smsman_timeout)
    cipher = cipher or TokenCipher(
        load_or_create_key(
            settings.token_encryption_key.get_secret_value()
            if settings.token_encryption_key
            else None,
            settings.data_dir,
        )
    )
    budget = create_budget(settings)
    provider = create_provider(settings, http, budget.interactive)
    former = create_former_provider(settings, http, budget.interactive)
    users = UserStore(redis, cipher)
    activations = ActivationStore(redis)
    background = create_provider(settings, http, budget.background)
    catalog = Catalog(provider, CatalogCache(redis, provider.name), background=background)
    balances = Balances(provider, BalanceStore(redis))
    early_cancel = EarlyCancelStore(redis)
    purchase = PurchaseService(
        provider,
        redis,
        users,
        activations,
        catalog,
        balances,
        activation_timeout=settings.activation_timeout,
        poll_interval=settings.poll_interval,
        early_cancel=early_cancel,
        request_timeout=settings.smsman_timeout,
        verify_debit=settings.smsman_verify_debit,
    )
    activation_service = ActivationService(
        provider,
        activations,
        cipher,
        poll_interval=settings.poll_interval,
        former=former,
        balances=balances,
        early_cancel=early_cancel,
    )
    return App(
        settings=settings,
        redis=redis,
        watcher_redis=watcher_redis or redis,
        http=http,
        budget=budget,
        provider=provider,
        former_provider=former,
        background_provider=background,
        background_former_provider=create_former_provider(settings, http, budget.background),
        cipher=cipher,
        users=users,
        activations=activations,
        catalog=catalog,
        tokens=TokenService(provider, users, activations, cipher, NoticeStore(redis), balances),
        purchase=purchase,
        activation_service=activation_service,
        replace=ReplaceService(purchase, activation_service),
        balances=balances,
        early_cancel=early_cancel,
        favourites=FavouritesService(FavouriteStore(redis), catalog),
        admin=AdminService(provider, users, activations),
        reachability=Reachability(BlockedStore(redis), activations),
    )


async def close_app(app: App) -> None:
    await app.purchase.aclose()
    await app.catalog.aclose()
    for provider in (
        app.provider,
        app.former_provider,
        app.background_provider,
        app.background_former_provider,
    ):
        if provider is not None:
            await provider.aclose()
    await app.http.aclose()


@asynccontextmanager
async def open_app(settings: Settings, redis_url: str) -> AsyncIterator[App]:
    """Open Redis and the HTTP client, check the token key, yield the App, close it all."""
    redis = create_redis(redis_url)
    watcher_redis = create_redis(redis_url, max_connections=WATCHER_REDIS_CONNECTIONS)
    try:
        await redis.ping()
        app = build_app(settings, redis, watcher_redis=watcher_redis)
        try:
            await app.users.check_key()
            yield app
        finally:
            await close_app(app)
    finally:
        await redis.aclose()
        await watcher_redis.aclose()


def create_bot(settings: Settings) -> Bot:
    api = TelegramAPIServer.from_base(str(settings.telegram_api_url).rstrip("/"))
    bot = Bot(
        token=settings.bot_token.get_secret_value(),
        session=AiohttpSession(api=api),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
    bot.session.middleware(KeepResponseTypes())
    bot.session.middleware(FloodWait())
    return bot


def create_dispatcher(app: App) -> Dispatcher:
    """The dispatcher with every router, middleware and FSM storage in Redis (in the user
    hashes, on the App's client, which `open_app` closes: not the dispatcher)."""
    storage = ConversationStorage(ConversationStore(app.redis))
    dispatcher = Dispatcher(storage=storage, **app.workflow_data())
    setup_dispatcher(dispatcher, app.settings)
    return dispatcher
