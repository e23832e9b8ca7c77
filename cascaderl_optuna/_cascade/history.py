"""Reading the study's history from storage and turning outcomes into rewards.

Storage is the source of truth: every quantity the agents learn from is derived here from the
trials that optuna stores, so a sampler in a fresh process on the same storage sees the same
history as the one that wrote it.

Outcome ranking (direction-aware; "better" first):

1. COMPLETE trials with a finite value, by value.
2. PRUNED trials, after every complete trial: by the step they reached (later is better), then by
   their last intermediate value. A pruned trial's last intermediate value comes from a shorter
   run and can look better than any finished trial, so it never outranks one.
3. Infeasible trials (COMPLETE or PRUNED with a constraint value above 0, from the sampler's
   ``constraints_func`` or ``Trial.set_constraint``): after every feasible one, by their total
   violation (the sum of the positive constraint values; less is better), then by value. No
   infeasible trial can be the study's answer (``study.best_trial`` skips them), but one that only
   just misses the constraint says more about where the feasible optimum is than one far off, so
   both levels learn from feasibility through the utility alone: a strategy whose trials are mostly
   infeasible gets low rewards, and the critic scores the infeasible side low.
4. FAIL trials, COMPLETE trials whose value is NaN or infinite, and pruned trials with no
   intermediate value: all tied as the worst outcome.

Rewards are rank based (robust to divergence outliers): a trial's utility is the normal score of
its rank among the window, ``Phi^-1((n - rank - 0.5) / n)``, so the best trial scores about +2 and
the worst about -2 whatever the scale of the objective. Ties share their mean rank.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Sequence
from dataclasses import dataclass
import datetime
import math
from statistics import NormalDist

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from cascaderl_optuna._cascade.optuna_compat import trial_id


FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_NORMAL = NormalDist()


@dataclass
class History:
    """A bounded window of the study's trials, ordered by trial number."""

    finished: list[FrozenTrial]
    """COMPLETE, PRUNED and FAIL trials that carry parameters (oldest first)."""
    running: list[FrozenTrial]
    """RUNNING trials other than the one being sampled (their rewards have not arrived)."""
    utilities: np.ndarray
    """Rank-based utility of each finished trial (higher is better)."""
    all_finished: list[FrozenTrial]
    """Every finished trial with parameters, not only the window (for block-wise refits)."""


def read_history(
    trials: Sequence[FrozenTrial],
    direction: StudyDirection,
    window: int,
    current_number: int | None = None,
) -> History:
    """Select the last ``window`` finished trials and the running ones, and score them."""
    all_finished = [t for t in trials if t.state in FINISHED_STATES and t.params]
    finished = all_finished[-window:] if window > 0 else all_finished
    running = [t for t in trials if t.state == TrialState.RUNNING and t.number != current_number and t.params]
    return History(finished, running, rank_utilities(finished, direction), all_finished)


def without_stale(
    history: History, stale_ids: Collection[int], max_age: float | None, now: datetime.datetime
) -> History:
    """``history`` without the RUNNING trials that are no longer running anywhere.

    A RUNNING trial counts as pending (the high level's pending share, the critic's constant liar)
    because another worker is evaluating it. One whose worker died is not: with heartbeats, the
    storage names the trials whose heartbeat is older than the grace period (``stale_ids``, trial
    ids); without, a trial started more than ``max_age`` seconds ago (if set) is taken for dead.
    """
    running = [
        t
        for t in history.running
        if trial_id(t) not in stale_ids
        and (max_age is None or t.datetime_start is None or (now - t.datetime_start).total_seconds() <= max_age)
    ]
    if len(running) == len(history.running):
        return history
    return History(history.finished, running, history.utilities, history.all_finished)


def violation(trial: FrozenTrial) -> float:
    """How far the trial is from feasible: the sum of its constraint values above 0 (0 when unconstrained)."""
    return float(sum(max(0.0, c) for c in trial.constraints.values()))


def _sort_key(trial: FrozenTrial, sign: float) -> tuple[int, float, float]:
    if trial.state == TrialState.COMPLETE and trial.value is not None and math.isfinite(trial.value):
        key = (0, 0.0, sign * float(trial.value))
    elif trial.state == TrialState.PRUNED and trial.intermediate_values:
        step, value = max(trial.intermediate_values.items())
        if not math.isfinite(value):
            return 3, 0.0, 0.0
        key = (1, -float(step), sign * float(value))
    else:
        return 3, 0.0, 0.0
    excess = violation(trial)
    return key if excess == 0.0 else (2, excess, key[2])


def rank_utilities(trials: Sequence[FrozenTrial], direction: StudyDirection) -> np.ndarray:
    """Normal scores of the trials' ranks (best highest); ties share a rank."""
    n = len(trials)
    if n == 0:
        return np.zeros(0)
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    keys = [_sort_key(t, sign) for t in trials]
    order = sorted(range(n), key=keys.__getitem__)
    ranks = np.empty(n)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and keys[order[j + 1]] == keys[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j)
        i = j + 1
    return np.array([_NORMAL.inv_cdf((n - r - 0.5) / n) for r in ranks])


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = r_t + gamma * G_{t+1}`` over the sequence of trials, truncated at the window's end."""
    out = np.zeros_like(rewards, dtype=float)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out
