"""Figures a test wants in the normal pytest output (not only with -s): a test calls
`report(...)`; `pytest_terminal_summary` in tests/conftest.py prints them after the run."""

from __future__ import annotations

_LINES: list[str] = []


def report(line: str) -> None:
    """Print `line` in the terminal summary of this pytest run."""
    _LINES.append(line)


def reported() -> list[str]:
    return list(_LINES)
