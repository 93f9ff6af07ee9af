"""The activation watcher: polls every pending activation and pushes each code to its chat.

How it works: docs/watcher.md. The modules, by job:

- `scheduler`: `ActivationWatcher` — claims due activations, the worker pool, run/stop;
- `check`: one activation's check — poll → decision (code / wait / expire / closed);
- `delivery`: push the code, update the card (its own pool, one job per activation);
- `blocked`: the policy for users who blocked the bot;
- `agenda`: next due times decided by checks, back-off of failing activations;
- `deadlines`: one watchdog enforcing every provider call's deadline;
- `pacing`: each SMS-man key's checks scheduled at its rate (`SMSMAN_TOKEN_RPS`);
- `health`: counters, throttled problem logs, "falling behind";
- `settings`: `WatcherSettings`, every knob and what follows from it;
- `context`: `WatcherContext`, what the parts share (settings, counters, logs, clock).

The activation lock every change happens under is `bot.store.locks.held`.
"""

from bot.watcher.health import WatcherStats
from bot.watcher.scheduler import ActivationWatcher, create_watcher
from bot.watcher.settings import WatcherSettings

__all__ = ["ActivationWatcher", "WatcherSettings", "WatcherStats", "create_watcher"]
