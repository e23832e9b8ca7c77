"""Skips for the tests of optional extras: without the extra, its tests skip with the command that installs it."""

from __future__ import annotations

import importlib.util

import pytest


CLI_EXTRA = ("rich", "yaml", "sklearn")


def require_cli_extra() -> None:
    """Skip the calling test module unless the cli extra is installed.

    Called at the top of the module, before it imports ``rich`` or ``cascaderl_optuna.cli`` (whose imports would fail
    without the extra); the imports after it carry ruff's E402 exemption (``pyproject.toml``).
    """
    missing = [m for m in CLI_EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(
            f"needs the cli extra ({', '.join(missing)} missing): pip install '.[cli]'", allow_module_level=True
        )
