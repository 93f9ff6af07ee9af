"""Shared fixtures. Each area keeps its fixtures in its own module under tests/fixtures/."""

from hypothesis import HealthCheck, settings

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
