"""What the cascade stores with each trial: two typed, versioned records, as plain JSON.

At ask time the sampler records, for the trial it samples, a :class:`Decision`: the strategy it
chose and the behaviour log-probabilities of both levels, so that when the trial's reward arrives
(minutes later, maybe in another process) the PPO update can re-score the action against the
policy that took it. A second record, :class:`PolicyDiagnostics`, holds what the policy looked
like (strategy probabilities, entropy, the PPO statistics of both levels) for observability: the
loggers, the plots, optuna-dashboard and the command line read it, the learning never does.

This module is the only place that knows the JSON layout. Everything else reads and writes the
records through :meth:`Decision.read` / :meth:`Decision.write` (and the same on
:class:`PolicyDiagnostics`), so a change of format is made once, here, with a new
``FORMAT_VERSION``. A record written by a newer version than this code reads as absent (its fields
may mean something else); a malformed record reads as absent too, so a corrupt attribute never
breaks a study: the trial then counts as one the cascade did not decide, as a trial of another
sampler does.

RDB storages keep a system attr in a column of 2,048 characters, so a record whose JSON is longer
than ``MAX_CHUNK`` is written in numbered chunks (``key:0``, ``key:1``, ...) with the chunk count
under ``key:n``, as optuna's own ``CmaEsSampler`` does. No pickle anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
import json
import math
from typing import Any

import numpy as np
from optuna.study import Study
from optuna.trial import FrozenTrial

from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.optuna_compat import set_trial_system_attr


DECISION_KEY = "cascade:decision"
POLICY_KEY = "cascade:policy"
MAX_CHUNK = 2045
FORMAT_VERSION = 1


# -- the two records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """What the cascade decided for one trial: the data its PPO updates learn from.

    Attributes:
        strategy: strategic head name -> index of the chosen choice (every strategic head).
        hl_log_prob: head name -> log-probability of that choice under the high-level policy that
            drew it. A head whose value was fixed (``enqueue_trial``) is absent: it was not
            sampled, so the trial is off-policy data for that head.
        critic_gap: head name -> the ``critic_gap`` feature of each choice, as the high level saw
            it when deciding (replayed by later fits). ``None`` when the space has no strategic head.
        ll_log_prob: tactical parameter name -> log-density of its unit-cube value under the
            low-level Gaussian that drew it. ``None`` when the space has no tactical parameter.
        ll_mean, ll_std: that Gaussian (observability only).
    """

    strategy: dict[str, int]
    hl_log_prob: dict[str, float]
    critic_gap: dict[str, list[float]] | None = None
    ll_log_prob: dict[str, float] | None = None
    ll_mean: dict[str, float] | None = None
    ll_std: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": FORMAT_VERSION, "strategy": self.strategy, "hl_log_prob": self.hl_log_prob}
        if self.critic_gap is not None:
            out["critic_gap"] = self.critic_gap
        if self.ll_log_prob is not None:
            out["ll_log_prob"] = self.ll_log_prob
            out["ll_policy"] = {"mean": self.ll_mean or {}, "std": self.ll_std or {}}
        return out

    @classmethod
    def from_json(cls, data: Any) -> Decision | None:
        if not _readable(data):
            return None
        try:
            policy = data.get("ll_policy") or {}
            return cls(
                strategy={str(k): int(v) for k, v in data.get("strategy", {}).items()},
                hl_log_prob={str(k): float(v) for k, v in data.get("hl_log_prob", {}).items()},
                critic_gap=None
                if data.get("critic_gap") is None
                else {str(k): [float(g) for g in v] for k, v in data["critic_gap"].items() if isinstance(v, list)},
                ll_log_prob=None
                if data.get("ll_log_prob") is None
                else {str(k): float(v) for k, v in data["ll_log_prob"].items()},
                ll_mean=policy.get("mean"),
                ll_std=policy.get("std"),
            )
        except (AttributeError, TypeError, ValueError):
            return None

    @classmethod
    def read(cls, trial: FrozenTrial) -> Decision | None:
        """The trial's decision, or ``None`` (not decided by the cascade, newer or corrupt)."""
        return cls.from_json(_read_json(trial, DECISION_KEY))

    def write(self, study: Study, trial_id: int) -> None:
        _write_json(study, trial_id, DECISION_KEY, self.to_json())


@dataclass(frozen=True)
class PolicyDiagnostics:
    """What the policy looked like when it decided a trial (observability only).

    Attributes:
        probs: strategic head name -> probability of each choice (the floored policy).
        entropy: the high-level policy's entropy, summed over heads (nats).
        high_level, low_level: the PPO statistics of each level's update (``PPOStats.as_dict``,
            plus ``mean_std`` for the low level); ``None`` when that level did not act.
    """

    probs: dict[str, list[float]] | None = None
    entropy: float | None = None
    high_level: dict[str, Any] | None = None
    low_level: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": FORMAT_VERSION}
        if self.probs is not None:
            out["probs"] = self.probs
            out["entropy"] = self.entropy
            out["high_level"] = self.high_level
        if self.low_level is not None:
            out["low_level"] = self.low_level
        return _finite(out)

    @classmethod
    def from_json(cls, data: Any) -> PolicyDiagnostics | None:
        if not _readable(data):
            return None
        probs = data.get("probs")
        if probs is not None and not (isinstance(probs, dict) and all(isinstance(p, list) for p in probs.values())):
            return None
        entropy = data.get("entropy")
        return cls(
            probs=probs,
            entropy=float(entropy) if isinstance(entropy, (int, float)) else None,
            high_level=data.get("high_level") if isinstance(data.get("high_level"), dict) else None,
            low_level=data.get("low_level") if isinstance(data.get("low_level"), dict) else None,
        )

    @classmethod
    def read(cls, trial: FrozenTrial) -> PolicyDiagnostics | None:
        return cls.from_json(_read_json(trial, POLICY_KEY))

    def write(self, study: Study, trial_id: int) -> None:
        _write_json(study, trial_id, POLICY_KEY, self.to_json())


# -- what the learning reads back, as arrays ---------------------------------------------------
def high_level_behaviour(
    trials: Sequence[FrozenTrial], decisions: Sequence[Decision | None], heads: Sequence[StrategicParam]
) -> np.ndarray:
    """``(n, K)`` stored high-level behaviour log-probabilities; NaN where unknown.

    Unknown means: the trial was not sampled by the cascade's high level (space-filling start,
    another sampler, ``enqueue_trial``), or the value it ran with differs from the one chosen.
    """
    out = np.full((len(trials), len(heads)), np.nan)
    for i, (t, decision) in enumerate(zip(trials, decisions)):
        if decision is None:
            continue
        for k, head in enumerate(heads):
            if head.name in t.params and head.name in decision.hl_log_prob:
                if decision.strategy.get(head.name) == head.index_of(t.params[head.name]):
                    out[i, k] = decision.hl_log_prob[head.name]
    return out


def critic_gaps(decisions: Sequence[Decision | None], heads: Sequence[StrategicParam]) -> np.ndarray:
    """``(n, K, max choices)`` the ``critic_gap`` feature each stored decision saw; NaN if none."""
    c_max = max((h.n_choices for h in heads), default=1)
    out = np.full((len(decisions), len(heads), c_max), np.nan)
    for i, decision in enumerate(decisions):
        if decision is None or decision.critic_gap is None:
            continue
        for k, head in enumerate(heads):
            g = decision.critic_gap.get(head.name)
            if g is not None and len(g) == head.n_choices:
                out[i, k, : head.n_choices] = g
    return out


def low_level_behaviour(
    trials: Sequence[FrozenTrial], decisions: Sequence[Decision | None], names: Sequence[str]
) -> np.ndarray:
    """``(n, d)`` stored low-level behaviour log-probabilities per tactical dimension; NaN if unknown.

    A trial with fixed (enqueued) parameters is unknown in every dimension: its values were not
    all drawn from the policy whose densities were stored.
    """
    out = np.full((len(trials), len(names)), np.nan)
    for i, (t, decision) in enumerate(zip(trials, decisions)):
        if decision is None or decision.ll_log_prob is None or t.system_attrs.get("fixed_params"):
            continue
        for j, name in enumerate(names):
            if name in decision.ll_log_prob and name in t.params:
                out[i, j] = decision.ll_log_prob[name]
    return out


# -- JSON in system attrs ------------------------------------------------------------------------
def _readable(data: Any) -> bool:
    """A JSON object this version can read (no version: the first format)."""
    if not isinstance(data, Mapping):
        return False
    version = data.get("version", 1)
    return isinstance(version, int) and 1 <= version <= FORMAT_VERSION


def _write_json(study: Study, trial_id: int, key: str, record: dict[str, Any]) -> None:
    """Store ``record`` as JSON under ``key`` (chunked when longer than ``MAX_CHUNK``)."""
    text = json.dumps(record, separators=(",", ":"), allow_nan=False)
    if len(text) <= MAX_CHUNK:
        set_trial_system_attr(study, trial_id, key, text)
        return
    chunks = [text[i : i + MAX_CHUNK] for i in range(0, len(text), MAX_CHUNK)]
    for i, chunk in enumerate(chunks):
        set_trial_system_attr(study, trial_id, f"{key}:{i}", chunk)
    set_trial_system_attr(study, trial_id, f"{key}:n", len(chunks))


def _read_json(trial: FrozenTrial, key: str) -> Any:
    """The JSON value stored under ``key`` (joined from chunks), or ``None`` if absent or corrupt."""
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
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _finite(obj: Any) -> Any:
    """Replace non-finite floats (JSON cannot carry them) by None, recursively."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
