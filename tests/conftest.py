"""Shared fixtures. Each area keeps its fixtures in its own module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.sandbox",
    "tests.fixtures.telegram",
    "tests.fixtures.watcher",
    "tests.fixtures.e2e",
    "tests.fixtures.bot",
]
