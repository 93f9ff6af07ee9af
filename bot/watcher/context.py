"""What every part of one watcher shares: its settings, counters, problem logs and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.watcher.health import Problems, WatcherStats
from bot.watcher.settings import WatcherSettings


@dataclass(frozen=True, slots=True)
class WatcherContext:
    settings: WatcherSettings
    stats: WatcherStats
    problems: Problems
    clock: Callable[[], float]  # unix time: the schedule is shared between processes
