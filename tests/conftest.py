"""Shared fixtures. Each area keeps its fixtures in its own module under tests/fixtures/."""

import pytest
from hypothesis import HealthCheck, settings

from tests.support.report import reported

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.sandbox",
    "tests.fixtures.telegram",
    "tests.fixtures.watcher",
    "tests.fixtures.e2e",
    "tests.fixtures.bot",
]

# Property tests stay small (the whole suite runs in minutes on two cores) and write no
# example database into the repository.
settings.register_profile(
    "bot",
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("bot")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Figures tests reported with tests.support.report (e.g. the kill -9 tally)."""
    lines = reported()
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
