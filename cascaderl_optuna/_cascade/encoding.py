"""State encoding of the recent evaluation history, as the high-level agent sees it.

For each strategic head ``k`` and each of its choices ``c`` the encoder summarises the trials that
used ``c`` (optionally only those that agree with the choices already made for the earlier heads,
which is how the factorised policy conditions head ``k`` on heads ``< k``):

====================  ==============================================================
feature               meaning
====================  ==============================================================
``best_gap``          best utility with ``c`` minus the best utility overall (<= 0)
``mean_gap``          mean utility with ``c`` minus the mean utility overall
``budget_share``      share of the trials spent on ``c``
``uncertainty``       ``1 / sqrt(1 + count)``: how little is known about ``c``
``stagnation``        trials with ``c`` since its best improved, over ``1 + count``
``pending_share``     share of the RUNNING trials that use ``c`` (rewards not arrived)
``recent_share``      share of the last ``RECENT`` trials that used ``c``
``critic_gap``        the critic's optimistic estimate of the best utility reachable
                      with ``c`` (GP mean + beta * std, maximised over the window's
                      best tactical values), minus that of the best choice (<= 0)
====================  ==============================================================

``critic_gap`` is what separates "this family is worse" from "this family has not been tuned yet":
observed utilities confound a family's quality with how much the low level has tuned it, while the
critic's optimism stays high where it is unsure. The encoder leaves it at zero; the sampler fills
it in at decision time and stores it with the decision, so PPO re-scores each past decision with
what the agent saw then.

A choice never tried has zero gaps and full uncertainty: it looks as good as the best until
tried. The encoder knows nothing about Optuna; it works on arrays of choice indices (``-1`` where a
trial lacks a head) and utilities.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from collections.abc import Sequence
import math

import numpy as np


FEATURE_NAMES = (
    "best_gap",
    "mean_gap",
    "budget_share",
    "uncertainty",
    "stagnation",
    "pending_share",
    "recent_share",
    "critic_gap",
)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
"""Column of each feature in a feature row: the encoder and the agents index features by name."""
BEST_GAP = FEATURE_INDEX["best_gap"]
MEAN_GAP = FEATURE_INDEX["mean_gap"]
BUDGET_SHARE = FEATURE_INDEX["budget_share"]
UNCERTAINTY = FEATURE_INDEX["uncertainty"]
STAGNATION = FEATURE_INDEX["stagnation"]
PENDING_SHARE = FEATURE_INDEX["pending_share"]
RECENT_SHARE = FEATURE_INDEX["recent_share"]
CRITIC_GAP = FEATURE_INDEX["critic_gap"]
N_FEATURES = len(FEATURE_NAMES)
RECENT = 10
MIN_CONDITIONAL_COUNT_PER_CHOICE = 2


class _Summary:
    """Running per-choice statistics of one head over one subset of trials.

    Plain Python lists, not NumPy arrays: a head has a handful of choices and the sampler replays
    the whole window through the encoder on every decision, so per-call overhead is what counts.
    """

    __slots__ = ("count", "total", "best", "since_best", "recent")

    def __init__(self, n_choices: int) -> None:
        self.count = [0.0] * n_choices
        self.total = [0.0] * n_choices
        self.best = [-math.inf] * n_choices
        self.since_best = [0.0] * n_choices
        self.recent: deque[int] = deque(maxlen=RECENT)

    def add(self, choice: int, utility: float) -> None:
        self.count[choice] += 1
        self.total[choice] += utility
        if utility > self.best[choice]:
            self.best[choice] = utility
            self.since_best[choice] = 0.0
        else:
            self.since_best[choice] += 1
        self.recent.append(choice)


class HistoryEncoder:
    """Incrementally encodes a sequence of trials for a factorised high-level policy."""

    def __init__(self, n_choices: Sequence[int]) -> None:
        self.n_choices = list(n_choices)
        self._marginal = [_Summary(c) for c in self.n_choices]
        self._conditional: list[dict[tuple[int, ...], _Summary]] = [{} for _ in self.n_choices]
        self._best_all = -math.inf
        self._sum_all = 0.0
        self._n_all = 0

    def add(self, choices: Sequence[int], utility: float) -> None:
        """Account for one finished trial (``choices[k] == -1`` where it lacks head ``k``)."""
        self._best_all = max(self._best_all, utility)
        self._sum_all += utility
        self._n_all += 1
        for k, c in enumerate(choices):
            if c < 0:
                continue
            self._marginal[k].add(c, utility)
            if k > 0:
                prefix = tuple(choices[:k])
                summary = self._conditional[k].get(prefix)
                if summary is None:
                    summary = self._conditional[k][prefix] = _Summary(self.n_choices[k])
                summary.add(c, utility)

    def features(self, k: int, prefix: Sequence[int], pending: np.ndarray | None = None) -> np.ndarray:
        """Feature matrix ``(n_choices[k], N_FEATURES)`` of head ``k`` given earlier choices."""
        return np.array(self.feature_rows(k, prefix, pending))

    def feature_rows(self, k: int, prefix: Sequence[int], pending: np.ndarray | None = None) -> list[list[float]]:
        """``features`` as nested lists (one row per choice), for the replay's inner loop."""
        n_c = self.n_choices[k]
        summary = self._marginal[k]
        if k > 0:
            cond = self._conditional[k].get(tuple(prefix))
            if cond is not None and sum(cond.count) >= MIN_CONDITIONAL_COUNT_PER_CHOICE * n_c:
                summary = cond
        count, since_best = summary.count, summary.since_best
        rows = [[0.0] * N_FEATURES for _ in range(n_c)]
        if self._n_all > 0:
            mean_all = self._sum_all / self._n_all
            total = sum(count)
            for c in range(n_c):
                if count[c] > 0:
                    rows[c][BEST_GAP] = summary.best[c] - self._best_all
                    rows[c][MEAN_GAP] = summary.total[c] / count[c] - mean_all
                if total > 0:
                    rows[c][BUDGET_SHARE] = count[c] / total
        if pending is not None and pending.sum() > 0:
            pending_rows = (pending / (1.0 + pending.sum())).tolist()
        else:
            pending_rows = None
        recent = summary.recent
        if recent:
            recent_counts = [0] * n_c
            for c in recent:
                recent_counts[c] += 1
        for c in range(n_c):
            row = rows[c]
            row[UNCERTAINTY] = 1.0 / math.sqrt(1.0 + count[c])
            row[STAGNATION] = since_best[c] / (1.0 + count[c])
            if pending_rows is not None:
                row[PENDING_SHARE] = pending_rows[c]
            if recent:
                row[RECENT_SHARE] = recent_counts[c] / len(recent)
        return rows

    def value_state(self) -> list[float]:
        """State of the value baseline: a constant, the best and mean utility so far."""
        if self._n_all == 0:
            return [1.0, 0.0, 0.0]
        return [1.0, self._best_all, self._sum_all / self._n_all]


# -- the critic_gap feature ------------------------------------------------------------------------
GAP_CANDIDATES = 32
"""Tactical vectors at which each strategic choice is valued: the window's best trials, and as many
uniform draws."""


def critic_gap_candidates(
    inputs: np.ndarray, n_tactical: int, utilities: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Rows of (tactical values, strategy code) at which the critic values every choice.

    ``inputs`` are the window's critic inputs (``coordinates.critic_input``, the first ``n_tactical`` columns the
    tactical values). The candidates: the window's best trials, plus as many uniform tactical vectors, each with the
    code of one of those trials: a choice's own optimum may lie where no trial has been (SGD's learning rate far from
    AdamW's), and the critic's optimism there counts.
    """
    top = np.argsort(-utilities, kind="stable")[:GAP_CANDIDATES]
    explore = np.hstack(
        [rng.random((GAP_CANDIDATES, n_tactical)), inputs[rng.choice(top, GAP_CANDIDATES), n_tactical:]]
    )
    return np.vstack([inputs[top], explore])


def critic_gap_function(
    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    candidates: np.ndarray,
    n_tactical: int,
    n_choices: Sequence[int],
    beta: float,
) -> Callable[[int, list[int]], np.ndarray]:
    """``(k, earlier choices) -> critic_gap`` of each choice of head ``k``.

    For choice ``c`` of head ``k`` the candidates' codes of heads ``< k`` are set to the choices
    already made and head ``k``'s to ``c``; the feature is the best optimistic critic value
    (``mean + beta * std``) over the candidates, minus the best over all choices: 0 for the
    choice the critic thinks can reach furthest, negative for the others. ``predict`` is the
    critic's posterior (mean, std) of a batch of rows. The one-hot blocks are written in place at the offsets of
    ``coordinates.critic_input``'s layout (tactical columns, then one block of ``n_choices[k]`` columns per head).
    """
    offsets = np.cumsum([0, *n_choices]) + n_tactical

    def gap(k: int, prefix: list[int]) -> np.ndarray:
        rows = candidates.copy()
        for j, c in enumerate(prefix):
            rows[:, offsets[j] : offsets[j + 1]] = 0.0
            rows[:, offsets[j] + c] = 1.0
        n_c = n_choices[k]
        rows[:, offsets[k] : offsets[k + 1]] = 0.0
        batch = np.tile(rows, (n_c, 1))  # one critic call for every choice of head k
        for c in range(n_c):
            batch[c * len(rows) : (c + 1) * len(rows), offsets[k] + c] = 1.0
        mu, sd = predict(batch)
        best = (mu + beta * sd).reshape(n_c, len(rows)).max(1)
        return best - best.max()

    return gap
