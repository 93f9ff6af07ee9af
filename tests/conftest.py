"""Shared fixtures. Each area keeps its fixtures in its own module under tests/fixtures/."""

import pytest

from tests.support.report import reported

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.sandbox",
    "tests.fixtures.telegram",
    "tests.fixtures.watcher",
    "tests.fixtures.e2e",
    "tests.fixtures.bot",
]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Figures tests reported with tests.support.report (e.g. the kill -9 tally)."""
    lines = reported()
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
