"""Packaging that pyproject.toml cannot say: the catalogs ship inside the package.

`locales/` stays at the top of the repository (translators and `python -m bot.i18n` work
there); an installed package carries it as `bot/locales/`, where bot.i18n looks first.
Everything else about the project is in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

# locales/<language>/LC_MESSAGES as (data-only) packages under bot.locales.
CATALOGS = ["bot.locales", *(f"bot.locales.{name}" for name in find_namespace_packages("locales"))]

setup(
    packages=[*find_packages(include=["bot*", "handlers*", "keyboards*"]), *CATALOGS],
    package_dir={"bot.locales": "locales"},
    package_data={name: ["*.po"] for name in CATALOGS},
)
