"""What the cascade stores with each trial, and how (plain JSON in trial system attrs).

At ask time the sampler records, for the trial it samples, the strategy it chose and the
behaviour log-probabilities of both levels, so that when the trial's reward arrives (minutes
later, maybe in another process) the PPO update can re-score the action against the policy that
took it. The strategy probabilities go in a second record for observability (dashboard, logging).

RDB storages keep a system attr in a column of 2,048 characters, so a record whose JSON is longer
than ``MAX_CHUNK`` is written in numbered chunks (``key:0``, ``key:1``, ...) with the chunk count
under ``key:n``, as optuna's own ``CmaEsSampler`` does. No pickle anywhere.
"""

from __future__ import annotations

import json
from typing import Any

from optuna.study import Study
from optuna.trial import FrozenTrial


DECISION_KEY = "cascade:decision"
"""``{"strategy": {name: choice index}, "hl_log_prob": {name: float},
"ll_log_prob": {name: float}, "version": 1}``."""
POLICY_KEY = "cascade:policy"
"""``{"probs": {name: [p, ...]}, "entropy": float, "losses": {...}}`` (observability only)."""
MAX_CHUNK = 2045
FORMAT_VERSION = 1


def write_record(study: Study, trial_id: int, key: str, record: dict[str, Any]) -> None:
    """Store ``record`` as JSON under ``key`` (chunked when longer than ``MAX_CHUNK``)."""
    text = json.dumps(record, separators=(",", ":"), allow_nan=False)
    storage = study._storage
    if len(text) <= MAX_CHUNK:
        storage.set_trial_system_attr(trial_id, key, text)
        return
    chunks = [text[i : i + MAX_CHUNK] for i in range(0, len(text), MAX_CHUNK)]
    for i, chunk in enumerate(chunks):
        storage.set_trial_system_attr(trial_id, f"{key}:{i}", chunk)
    storage.set_trial_system_attr(trial_id, f"{key}:n", len(chunks))


def read_record(trial: FrozenTrial, key: str) -> dict[str, Any] | None:
    """The record stored under ``key``, or ``None`` when the trial has none (or it is corrupt)."""
    attrs = trial.system_attrs
    text = attrs.get(key)
    if text is None:
        n = attrs.get(f"{key}:n")
        if not isinstance(n, int):
            return None
        try:
            text = "".join(attrs[f"{key}:{i}"] for i in range(n))
        except KeyError:
            return None
    try:
        record = json.loads(text)
    except (TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None
