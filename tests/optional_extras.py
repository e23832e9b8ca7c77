"""Skip markers for the tests of optional extras: without the extra, its tests skip with the install command."""

from __future__ import annotations

import importlib.util

import pytest


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


needs_cli_extra = pytest.mark.skipif(
    bool(_missing("rich", "yaml", "sklearn")),
    reason=f"needs the cli extra ({', '.join(_missing('rich', 'yaml', 'sklearn'))} missing): pip install '.[cli]'",
)
