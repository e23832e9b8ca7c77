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

from collections.abc import Sequence

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
CRITIC_GAP = FEATURE_NAMES.index("critic_gap")
N_FEATURES = len(FEATURE_NAMES)
RECENT = 10
MIN_CONDITIONAL_COUNT_PER_CHOICE = 2


class _Summary:
    """Running per-choice statistics of one head over one subset of trials."""

    __slots__ = ("count", "total", "best", "since_best", "recent")

    def __init__(self, n_choices: int) -> None:
        self.count = np.zeros(n_choices)
        self.total = np.zeros(n_choices)
        self.best = np.full(n_choices, -np.inf)
        self.since_best = np.zeros(n_choices)
        self.recent: list[int] = []

    def add(self, choice: int, utility: float) -> None:
        self.count[choice] += 1
        self.total[choice] += utility
        if utility > self.best[choice]:
            self.best[choice] = utility
            self.since_best[choice] = 0
        else:
            self.since_best[choice] += 1
        self.recent.append(choice)
        if len(self.recent) > RECENT:
            self.recent.pop(0)


class HistoryEncoder:
    """Incrementally encodes a sequence of trials for a factorised high-level policy."""

    def __init__(self, n_choices: Sequence[int]) -> None:
        self.n_choices = list(n_choices)
        self._marginal = [_Summary(c) for c in self.n_choices]
        self._conditional: list[dict[tuple[int, ...], _Summary]] = [{} for _ in self.n_choices]
        self._best_all = -np.inf
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

    def features(
        self, k: int, prefix: Sequence[int], pending: np.ndarray | None = None
    ) -> np.ndarray:
        """Feature matrix ``(n_choices[k], N_FEATURES)`` of head ``k`` given earlier choices."""
        n_c = self.n_choices[k]
        summary = self._marginal[k]
        if k > 0:
            cond = self._conditional[k].get(tuple(prefix))
            if cond is not None and cond.count.sum() >= MIN_CONDITIONAL_COUNT_PER_CHOICE * n_c:
                summary = cond
        out = np.zeros((n_c, N_FEATURES))
        count = summary.count
        tried = count > 0
        if self._n_all > 0:
            mean_all = self._sum_all / self._n_all
            out[tried, 0] = summary.best[tried] - self._best_all
            out[tried, 1] = summary.total[tried] / count[tried] - mean_all
            total = count.sum()
            if total > 0:
                out[:, 2] = count / total
        out[:, 3] = 1.0 / np.sqrt(1.0 + count)
        out[:, 4] = summary.since_best / (1.0 + count)
        if pending is not None and pending.sum() > 0:
            out[:, 5] = pending / (1.0 + pending.sum())
        if summary.recent:
            out[:, 6] = np.bincount(summary.recent, minlength=n_c)[:n_c] / len(summary.recent)
        return out

    def value_state(self) -> np.ndarray:
        """State of the value baseline: a constant, the best and mean utility so far."""
        if self._n_all == 0:
            return np.array([1.0, 0.0, 0.0])
        return np.array([1.0, self._best_all, self._sum_all / self._n_all])
