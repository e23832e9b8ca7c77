"""Variants of the cascade that were tried and not adopted, kept so that their verdict can be re-run.

A change of the cascade is judged on the held-out suite after it is made (``benchmarks/README.md``), and on the
published problems. When it loses, the code goes back to what it was, but the evidence should not vanish with it:
each variant here is the shipped ``CascadeSampler`` with one part replaced (a subclass, so nothing in
``cascaderl_optuna`` carries it), run as sampler ``cascade_<variant>`` by the ``variants`` suite on the held-out
problems with the held-out suite's seeds (by ``variants_published`` on the full suite's, by ``variants_llm_family`` on
the published LoRA landscapes with the ``llm_family`` suite's), and paired by seed with the shipped cascade's rows
there::

    python -m benchmarks run --suite variants            # the held-out problems (about 4 minutes per variant)
    python -m benchmarks run --suite variants_published  # the published comparison's (about 13 minutes per variant)
    python -m benchmarks run --suite variants_llm_family # the published LoRA landscapes (120 studies per variant)
    python -m benchmarks.variants_comparison > benchmarks/results/variants/COMPARISON.md

The comparison is the one ``compare_revisions`` makes between two revisions (wins/losses of the variant per problem,
pooled per family with a two-sided sign test). It is valid only while the ``cascade`` rows are those of the code the
variants subclass: after an adopted change re-runs them, re-run the variants too (delete their rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna

from benchmarks.problems import Problem


@dataclass(frozen=True)
class Variant:
    summary: str  # what is different, and why it was worth trying
    # the LowLevelAgent subclass (built lazily: no cascade import at load); None: the shipped agent
    make_agent_class: Callable[[], type] | None = None
    # the HighLevelAgent subclass, likewise
    make_high_level_agent_class: Callable[[], type] | None = None
    # a CascadeSampler subclass to start from (a variant of a sampler hook), likewise
    make_sampler_class: Callable[[], type] | None = None


def _truncated_proposals() -> type:
    import numpy as np

    from cascaderl_optuna._cascade.low_level import LowLevelAgent

    class TruncatedProposalsAgent(LowLevelAgent):
        """The policy truncated to the unit cube: a coordinate outside [0, 1] is drawn again (up to 8 times)."""

        redraws = 8

        def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
            x = self.mean + self.std * rng.standard_normal((n, self.dim))
            for _ in range(self.redraws):
                outside = (x < 0.0) | (x > 1.0)
                if not outside.any():
                    break
                x = np.where(outside, self.mean + self.std * rng.standard_normal((n, self.dim)), x)
            return np.clip(x, 0.0, 1.0)

    return TruncatedProposalsAgent


DUAL_CLIP = 3.0  # the paper's value
# With a dual clip, ratios beyond e^30 are past every clip whatever the advantage: exponentiating them only
# risks inf * 0.
_LOG_RATIO_CAP = 30.0


def _dual_clip() -> type:
    import numpy as np

    from cascaderl_optuna._cascade.low_level import LowLevelAgent
    from cascaderl_optuna._cascade.ppo import PPOStats

    def dual_clip_gaussian_update(
        actions, present, old_log_prob, advantages, weights, mean, log_std, *, clip, epochs, lr
    ):  # type: ignore[no-untyped-def]
        """``gaussian_ppo_update`` with dual-clip PPO (Ye et al., 2020): for a negative advantage the loss is at
        most ``-DUAL_CLIP * advantage``, so a sample whose ratio is beyond ``DUAL_CLIP`` gives no gradient."""
        mean, log_std = mean.astype(float).copy(), log_std.astype(float).copy()
        stats = PPOStats(n_samples=len(advantages))
        if len(advantages) == 0 or epochs <= 0:
            return mean, log_std, stats
        mask = present.astype(float)
        x = np.where(present, actions, 0.0)
        params = [mean, log_std]
        m1 = [np.zeros_like(mean), np.zeros_like(log_std)]
        m2 = [np.zeros_like(mean), np.zeros_like(log_std)]
        b1, b2, eps = 0.9, 0.999, 1e-8

        def log_prob_and_scores():  # type: ignore[no-untyped-def]
            std = np.exp(log_std)
            z = (x - mean) / std
            log_prob = (mask * (-0.5 * z**2 - log_std - 0.5 * np.log(2 * np.pi))).sum(1)
            return log_prob, mask * z / std, mask * (z**2 - 1.0)

        def loss(ratio):  # type: ignore[no-untyped-def]
            clipped = np.maximum(-advantages * ratio, -advantages * ratio.clip(1.0 - clip, 1.0 + clip))
            return np.where(advantages < 0, np.minimum(clipped, -DUAL_CLIP * advantages), clipped)

        for step in range(1, epochs + 1):
            log_prob, d_mean, d_log_std = log_prob_and_scores()
            ratio = np.exp((log_prob - old_log_prob).clip(max=_LOG_RATIO_CAP))
            active = np.where(advantages > 0, ratio <= 1.0 + clip, ratio >= 1.0 - clip)
            active &= (advantages >= 0) | (ratio <= DUAL_CLIP)
            coefficient = -weights * advantages * ratio * active
            for i, g in enumerate([coefficient @ d_mean, coefficient @ d_log_std]):
                m1[i] = b1 * m1[i] + (1 - b1) * g
                m2[i] = b2 * m2[i] + (1 - b2) * g**2
                params[i] -= lr * (m1[i] / (1 - b1**step)) / (np.sqrt(m2[i] / (1 - b2**step)) + eps)
        log_prob, _, _ = log_prob_and_scores()
        log_ratio = (log_prob - old_log_prob).clip(max=_LOG_RATIO_CAP)
        ratio = np.exp(log_ratio)
        stats.pg_loss = float((weights * loss(ratio)).sum())
        stats.entropy = float((log_std + 0.5 + 0.5 * np.log(2 * np.pi)).sum())
        stats.approx_kl = float(((ratio - 1) - log_ratio).mean())
        stats.clipfrac = float((np.abs(ratio - 1.0) > clip).mean())
        return mean, log_std, stats

    class DualClipAgent(LowLevelAgent):
        """PPO's loss for a negative advantage capped at ``-DUAL_CLIP * advantage`` (dual-clip PPO)."""

        def update(self, actions, present, old_log_prob, advantages, weights):  # type: ignore[no-untyped-def]
            return dual_clip_gaussian_update(
                actions,
                present,
                old_log_prob,
                advantages,
                weights,
                self.mean,
                np.log(self.std),
                clip=self.clip,
                epochs=self.epochs,
                lr=self.lr,
            )

    return DualClipAgent


def _best_strategy_of(n_proposals: int) -> Callable[[], type]:
    def make() -> type:
        import numpy as np

        from cascaderl_optuna._cascade.high_level import HighLevelAgent

        class BestStrategyAgent(HighLevelAgent):
            """Draws ``n_proposals`` strategies from the policy; acts with the one the critic scores best.

            The score is the critic's best optimistic value over the critic-gap candidates (the ``strategy_score``
            that ``_StrategyScoreCascade`` attaches to the critic-gap function). The stored log-probabilities are
            those of the taken strategy under the policy (the proposal distribution), as for the low level's best
            of 64.
            """

            def act(self, rng, pending=None, fixed=None, critic_gap=None):  # type: ignore[no-untyped-def]
                score = getattr(critic_gap, "strategy_score", None)
                if score is None:
                    return super().act(rng, pending, fixed, critic_gap)
                memo: dict[tuple, np.ndarray] = {}

                def gap(k: int, prefix: list[int]) -> np.ndarray:  # each head's gaps computed once
                    key = (k, tuple(prefix))
                    if key not in memo:
                        memo[key] = critic_gap(k, prefix)
                    return memo[key]

                proposals = [super(BestStrategyAgent, self).act(rng, pending, fixed, gap) for _ in range(n_proposals)]
                best = int(np.argmax(score(np.array([p[0] for p in proposals]))))
                return proposals[best]

        return BestStrategyAgent

    return make


def _strategy_score_cascade() -> type:
    import numpy as np

    from cascaderl_optuna import CascadeSampler
    from cascaderl_optuna._cascade.coordinates import one_hot
    from cascaderl_optuna._cascade.encoding import critic_gap_candidates
    from cascaderl_optuna._cascade.encoding import critic_gap_function

    class _StrategyScoreCascade(CascadeSampler):
        """The critic-gap function carries ``strategy_score``: the best optimistic critic value of whole strategies
        (rows of ``(m, K)`` choices) over the same candidates, which a high level that compares strategies needs."""

        def _critic_gap_function(self, critic, x, onehot, utilities, strategic, rng):  # type: ignore[no-untyped-def]
            candidates = critic_gap_candidates(x, onehot, utilities, rng)
            n_tac = x.shape[1]
            gap = critic_gap_function(critic.predict, candidates, n_tac, [h.n_choices for h in strategic], self._beta)

            def strategy_score(strategies: np.ndarray) -> np.ndarray:
                codes = one_hot(strategies, strategic)
                batch = np.vstack(
                    [np.hstack([candidates[:, :n_tac], np.repeat(c[None, :], len(candidates), 0)]) for c in codes]
                )
                mu, sd = critic.predict(batch)
                return (mu + self._beta * sd).reshape(len(strategies), len(candidates)).max(1)

            gap.strategy_score = strategy_score  # type: ignore[attr-defined]
            return gap

    return _StrategyScoreCascade


def _floor_shared_by_heads() -> type:
    from cascaderl_optuna._cascade.high_level import HighLevelAgent

    class SharedFloorAgent(HighLevelAgent):
        """The probability floor divided among the strategic heads: ``floor / K`` per head."""

        def __init__(self, n_choices, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(n_choices, **kwargs)
            self.floor = self.floor / max(1, len(self.n_choices))

    return SharedFloorAgent


def _more_tuning_trials(extra: int) -> Callable[[], type]:
    def make() -> type:
        import torch

        from cascaderl_optuna._cascade.high_level import HighLevelAgent

        class MoreTuningTrialsAgent(HighLevelAgent):
            """The tuning share keeps a choice untuned until it has ``TUNING_TRIALS + extra`` trials of its own.

            Done through the warm start's count of trials each choice had elsewhere, lowered by ``extra - 0.5``: the
            share then misses ``TUNING_TRIALS + extra - 0.5 - count`` trials of each choice, as if the constant were
            larger. The half trial puts the cut between ``count = TUNING_TRIALS + extra - 1`` (untuned) and
            ``TUNING_TRIALS + extra`` (tuned) away from any float error of the count (the rows were run while the
            share still recovered it unrounded from the encoder's ``1 / sqrt(1 + count)``, 24 as 23.999...; the
            same trials either way).
            """

            def __init__(self, n_choices, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(n_choices, **kwargs)
                base = self._tuned_elsewhere
                if base is None:
                    base = torch.zeros(len(self.n_choices), self._c_max, dtype=torch.float64)
                self._tuned_elsewhere = base - (float(extra) - 0.5)

        return MoreTuningTrialsAgent

    return make


def _elite_frame() -> type:
    import numpy as np

    from cascaderl_optuna._cascade.low_level import gaussian_log_prob
    from cascaderl_optuna._cascade.low_level import LowLevelAgent
    from cascaderl_optuna._cascade.low_level import MAX_STD
    from cascaderl_optuna._cascade.low_level import MIN_LOG_PROB
    from cascaderl_optuna._cascade.low_level import MIN_STD
    from cascaderl_optuna._cascade.ppo import gaussian_ppo_update
    from cascaderl_optuna._cascade.ppo import normalise

    class EliteFrameAgent(LowLevelAgent):
        """The diagonal Gaussian in the principal axes of the strategy's better real trials (CMA-ES's idea).

        With at least ``2 * dim + 2`` real trials of the strategy, none lacking a parameter, the policy lives in
        ``z = R^T (x - c)``: ``c`` the initial mean, ``R`` the eigenvectors of the weighted covariance of the better
        half of those trials, the initial scales the square roots of its eigenvalues (clipped as the shipped ones).
        PPO runs on ``z`` exactly as the shipped agent runs on ``x``; proposals are mapped back and clipped to the
        cube. The stored per-dimension log-probabilities are ``z``'s (their sum is the taken point's log-density, a
        joint density being the same in any orthonormal frame). Otherwise the shipped agent.
        """

        _frame: tuple[np.ndarray, np.ndarray] | None = None

        def _to_z(self, x: np.ndarray) -> np.ndarray:
            centre, rot = self._frame
            return (x - centre) @ rot

        def _to_x(self, z: np.ndarray) -> np.ndarray:
            centre, rot = self._frame
            return np.clip(centre + z @ rot.T, 0.0, 1.0)

        def _z_sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
            return self._zmean + self._zstd * rng.standard_normal((n, self.dim))

        def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
            if self._frame is None:
                return super().sample(rng, n)
            return self._to_x(self._z_sample(rng, n))

        def log_prob(self, x: np.ndarray) -> np.ndarray:
            if self._frame is None:
                return super().log_prob(x)
            return np.maximum(gaussian_log_prob(self._to_z(x), self._zmean, self._zstd), MIN_LOG_PROB)

        def improve(self, score, rng, real_x=None, real_utility=None, real_log_prob=None):  # type: ignore[no-untyped-def]
            dim = self.dim
            usable = real_x is not None and len(real_x) >= 2 * dim + 2 and dim >= 2 and not np.isnan(real_x).any()
            if not usable or self.generations <= 0:
                return super().improve(score, rng, real_x, real_utility, real_log_prob)
            order = np.argsort(-real_utility, kind="stable")
            n_elite = max(dim + 1, int(np.ceil(0.5 * len(real_x))))
            elite = real_x[order[:n_elite]]
            w = np.log(n_elite + 0.5) - np.log(np.arange(1, n_elite + 1))
            w = w / w.sum()
            centre_e = w @ elite
            cov = (elite - centre_e).T @ ((elite - centre_e) * w[:, None])
            cov = 0.8 * cov + 0.2 * np.diag(np.diag(cov)) + 1e-8 * np.eye(dim)  # shrunk towards the axes
            eigval, rot = np.linalg.eigh(cov)
            self._frame = (self.mean.copy(), rot)
            self._zmean = np.zeros(dim)
            self._zstd = np.clip(np.sqrt(np.maximum(eigval, 0.0)), MIN_STD * 2, MAX_STD)
            rz = self._to_z(real_x)
            # The real trials' behaviour is taken as this decision's initial policy, not the stored densities: a
            # proposal clipped onto the cube's face leaves a rotated valley, so its stored density under the policy
            # that took it can be vanishingly small, and its ratio then overflows the update.
            real_old = gaussian_log_prob(rz, self._zmean, self._zstd).sum(1)
            real_adv = normalise(real_utility - real_utility.mean())
            for _ in range(self.generations):
                zs = self._z_sample(rng, self.n_imagined)
                returns = score(self._to_x(zs))
                advantages = normalise(returns - returns.mean())
                old = gaussian_log_prob(zs, self._zmean, self._zstd).sum(1)
                n_img = len(zs)
                weights = np.concatenate(
                    [np.full(n_img, (1.0 - self.real_weight) / n_img), np.full(len(rz), self.real_weight / len(rz))]
                )
                actions = np.vstack([zs, rz])
                new_mean, new_log_std, self.stats = gaussian_ppo_update(
                    actions,
                    np.ones_like(actions, dtype=bool),
                    np.concatenate([old, real_old]),
                    np.concatenate([advantages, real_adv]),
                    weights,
                    self._zmean,
                    np.log(self._zstd),
                    clip=self.clip,
                    epochs=self.epochs,
                    lr=self.lr,
                )
                self.stats.v_loss = float(np.mean((returns - returns.mean()) ** 2))
                new_std = np.exp(new_log_std)
                if not (np.all(np.isfinite(new_mean)) and np.all(np.isfinite(new_std))):
                    break
                self._zmean, self._zstd = new_mean, new_std.clip(MIN_STD, MAX_STD)
            # what the trial's record shows: the policy's mean and per-parameter scale in the cube's axes
            self.mean = self._to_x(self._zmean[None, :])[0]
            self.std = np.sqrt(np.maximum((rot**2) @ (self._zstd**2), MIN_STD**2))
            return self.stats

    return EliteFrameAgent


def _critic_fit_block(sampler, history):  # type: ignore[no-untyped-def]
    """The finished trials the shipped sampler fits the critic's hyperparameters on (``refit.critic_fit_range``)."""
    from cascaderl_optuna._cascade.refit import critic_fit_range

    done = history.all_finished
    start, stop = critic_fit_range(len(done), sampler._critic_refit_interval, sampler._critic_window)
    return done[start:stop]


def _values_lower_is_better(trials, direction):  # type: ignore[no-untyped-def]
    """Each complete trial's value, negated when maximising (lower is better); NaN for the others and non-finite."""
    import numpy as np
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    return np.array(
        [
            sign * t.value
            if t.state == TrialState.COMPLETE and t.value is not None and np.isfinite(t.value)
            else np.nan
            for t in trials
        ]
    )


def _far_out(trials, direction, fence=3.0):  # type: ignore[no-untyped-def]
    """The complete trials worse than Tukey's far-out fence of the complete finite values (``Q3 + fence * IQR`` of
    the values, lower is better); none with fewer than 5 such values."""
    import numpy as np

    values = _values_lower_is_better(trials, direction)
    ok = np.isfinite(values)
    if ok.sum() < 5:
        return np.zeros(len(trials), dtype=bool)
    q1, q3 = np.percentile(values[ok], [25, 75])
    return ok & (values > q3 + fence * (q3 - q1))


def _memoised_kernel(sampler, study, trials, heads, tactical, targets_of, key_name="critic_kernel"):  # type: ignore[no-untyped-def]
    """The shipped ``_kernel_params``'s fit and cache, on ``trials`` with ``targets_of(trials)`` as the fit's targets.

    ``key_name`` keeps apart in the cache the fits of other targets on the same trials. ``fit_kernel`` is looked up
    when the fit runs, so that a test can watch it.
    """
    import numpy as np

    from cascaderl_optuna._cascade import critic
    from cascaderl_optuna._cascade.coordinates import choice_matrix
    from cascaderl_optuna._cascade.coordinates import heads_key
    from cascaderl_optuna._cascade.coordinates import one_hot
    from cascaderl_optuna._cascade.coordinates import unit_matrix

    def fit():  # type: ignore[no-untyped-def]
        fit_x = np.hstack(
            [np.nan_to_num(unit_matrix(trials, tactical), nan=0.5), one_hot(choice_matrix(trials, heads), heads)]
        )
        return critic.fit_kernel(fit_x, targets_of(trials))

    key = (key_name, tuple(t.number for t in trials), tuple(tactical.items()), heads_key(heads))
    return sampler._finished_cache.memo(study, key, fit)


def _value_critic(warp: str) -> Callable[[], type]:
    """A cascade whose critic models the objective's values (``warp``: ``"yeo-johnson"`` or ``"none"``)."""

    def make() -> type:
        from dataclasses import replace

        import numpy as np

        from cascaderl_optuna import CascadeSampler
        from cascaderl_optuna._cascade.history import rank_utilities

        class ValueCritic(CascadeSampler):
            """The critic models the objective's values, warped (or not) and standardised, instead of rank utilities.

            Complete trials with a finite value get ``-sign * value``, Yeo-Johnson-warped when ``warp`` says so (the
            power fitted by maximum likelihood, as HEBO warps its outputs), standardised; pruned, failed and
            non-finite trials tie at the lowest of those. With fewer than 5 such complete trials, the rank utilities.
            The rewards of both PPO levels stay rank-based.
            """

            @staticmethod
            def _warped(trials, utilities, direction):  # type: ignore[no-untyped-def]
                value = -_values_lower_is_better(trials, direction)
                ok = np.isfinite(value)
                if ok.sum() < 5 or np.ptp(value[ok]) <= 0:
                    return utilities
                warped = (value[ok] - np.median(value[ok])) / np.ptp(value[ok])
                if warp == "yeo-johnson":
                    from scipy.stats import yeojohnson

                    warped, _ = yeojohnson(warped)
                warped = (warped - warped.mean()) / max(warped.std(), 1e-12)
                out = np.full(len(trials), warped.min())
                out[ok] = warped
                return out

            def _critic(self, study, history, heads, tactical, x, choices):  # type: ignore[no-untyped-def]
                # the shipped critic's posterior, on the warped targets in place of the rank utilities
                targets = self._warped(history.finished, history.utilities, study.direction)
                return super()._critic(study, replace(history, utilities=targets), heads, tactical, x, choices)

            def _kernel_params(self, study, history, heads, tactical):  # type: ignore[no-untyped-def]
                def targets_of(trials):  # type: ignore[no-untyped-def]
                    return self._warped(trials, rank_utilities(trials, study.direction), study.direction)

                return _memoised_kernel(self, study, _critic_fit_block(self, history), heads, tactical, targets_of)

        return ValueCritic

    return make


def _refined_acquisition() -> type:
    import numpy as np

    from cascaderl_optuna._cascade.low_level import LowLevelAgent

    class RefinedAcquisitionAgent(LowLevelAgent):
        """``act`` searches the critic's optimistic score more widely and more finely than the best of 64 draws.

        Candidates: the policy's 64 draws, 256 uniform points of the cube, and 96 perturbations (scales 0.1, 0.03,
        0.01) of each of the strategy's 3 best real trials; then, from the best candidate, 2 rounds of 64 Gaussian
        perturbations at each of the scales 0.02, 0.005, 0.001, 3e-4 and 1e-4, keeping any that scores higher (a
        shrinking random local search, where ``GPSampler`` runs L-BFGS on its acquisition).
        """

        uniform = 256
        around_best = 3
        starts = (0.1, 0.03, 0.01)
        refine = (0.02, 0.005, 0.001, 3e-4, 1e-4)

        def improve(self, score, rng, real_x=None, real_utility=None, real_log_prob=None):  # type: ignore[no-untyped-def]
            self._real = (real_x, real_utility)
            return super().improve(score, rng, real_x, real_utility, real_log_prob)

        def act(self, rng, score=None):  # type: ignore[no-untyped-def]
            if score is None or self.n_proposals <= 1:
                return super().act(rng, score)
            candidates = [self.sample(rng, self.n_proposals), rng.random((self.uniform, self.dim))]
            real_x, real_utility = getattr(self, "_real", (None, None))
            if real_x is not None and len(real_x):
                top = np.nan_to_num(real_x[np.argsort(-real_utility, kind="stable")[: self.around_best]], nan=0.5)
                for scale in self.starts:
                    noise = scale * rng.standard_normal((32 * len(top), self.dim))
                    candidates.append(np.clip(np.repeat(top, 32, 0) + noise, 0.0, 1.0))
            pool = np.vstack(candidates)
            scores = score(pool)
            best, best_score = pool[int(np.argmax(scores))], float(np.max(scores))
            for scale in self.refine:
                for _ in range(2):
                    local = np.clip(best + scale * rng.standard_normal((64, self.dim)), 0.0, 1.0)
                    local_scores = score(local)
                    if local_scores.max() > best_score:
                        best, best_score = local[int(np.argmax(local_scores))], float(local_scores.max())
            return best

    return RefinedAcquisitionAgent


def _tuning_spread() -> type:
    import numpy as np

    from cascaderl_optuna import CascadeSampler
    from cascaderl_optuna._cascade.high_level import TUNING_TRIALS

    class TuningSpread(CascadeSampler):
        """While a chosen strategic choice has fewer than ``TUNING_TRIALS`` trials in the window, its low level starts
        at least ``spread`` wide (per unit-cube coordinate) around the borrowed elite. Conditional heads do not count.

        The tuning share gives an untuned family its trials; this makes them search the family's own range instead of
        re-sampling the borrowed elite, which in the trap instances sits near the learning rate's lower bound, where
        the best family's trials did not diverge (``benchmarks/results/variants/trap_trace.md``).
        """

        spread = 0.15

        def _tactical(self, history, decisions, heads, choices, chosen, tactical, x, critic, rng):  # type: ignore[no-untyped-def]
            # a conditional head (absent from some trials, as SGD's nesterov) may not apply to this trial at all, and
            # its choices stay below TUNING_TRIALS for the whole study: only the heads every trial has count
            always = (choices >= 0).all(0) if len(choices) else np.zeros(len(chosen), dtype=bool)
            untuned = any(always[k] and int((choices[:, k] == c).sum()) < TUNING_TRIALS for k, c in enumerate(chosen))
            base = type(self)._low_level_agent_class
            if untuned:
                spread = self.spread
                self._low_level_agent_class = lambda mean, std, **kw: base(mean, np.maximum(std, spread), **kw)
            try:
                return super()._tactical(history, decisions, heads, choices, chosen, tactical, x, critic, rng)
            finally:
                self.__dict__.pop("_low_level_agent_class", None)

    return TuningSpread


def _fit_without_far_outliers() -> type:

    from cascaderl_optuna import CascadeSampler
    from cascaderl_optuna._cascade.history import rank_utilities

    class FitWithoutFarOutliers(CascadeSampler):
        """The critic's hyperparameters are fitted without the complete trials beyond Tukey's far-out fence.

        A complete trial whose value is worse than ``Q3 + 3 IQR`` of the fit block's complete values (mirrored when
        maximising) is left out of the marginal-likelihood fit (with at least 5 trials left; else all are kept). The
        posterior still conditions on every trial of the window with its rank utility, so the critic still knows
        that those regions are bad; only its length scales and noise are no longer set by them.
        """

        fence = 3.0

        def _kernel_params(self, study, history, heads, tactical):  # type: ignore[no-untyped-def]
            fit_trials = _critic_fit_block(self, history)
            far = _far_out(fit_trials, study.direction, self.fence)
            kept = fit_trials
            if far.any() and (~far).sum() >= 5:
                kept = [t for t, f in zip(fit_trials, far) if not f]
            return _memoised_kernel(
                self, study, kept, heads, tactical, lambda trials: rank_utilities(trials, study.direction)
            )

    return FitWithoutFarOutliers


def _sigma_relative_steps() -> type:
    import numpy as np

    from cascaderl_optuna._cascade.low_level import LowLevelAgent
    from cascaderl_optuna._cascade.ppo import gaussian_ppo_update

    class SigmaRelativeStepsAgent(LowLevelAgent):
        """Adam's steps on the policy's mean are ``step_in_std`` of the policy's spread, not a fixed 0.05 of the cube.

        The PPO update runs in coordinates divided by ``std * step_in_std / lr`` per dimension (the densities and the
        stored log-probabilities moved with them, so every ratio is unchanged), which makes Adam's step on the mean
        ``step_in_std`` times the spread at the start of the update; the step on the log-spread is unchanged.
        """

        step_in_std = 0.2

        def update(self, actions, present, old_log_prob, advantages, weights):  # type: ignore[no-untyped-def]
            scale = self.std * self.step_in_std / self.lr
            log_scale = np.log(scale)
            shift = np.where(present, log_scale[None, :], 0.0).sum(1)  # log-density of x / scale = of x + log scale
            mean, log_std, stats = gaussian_ppo_update(
                np.where(present, actions / scale, 0.0),
                present,
                old_log_prob + shift,
                advantages,
                weights,
                self.mean / scale,
                np.log(self.std) - log_scale,
                clip=self.clip,
                epochs=self.epochs,
                lr=self.lr,
            )
            return mean * scale, log_std + log_scale, stats

    return SigmaRelativeStepsAgent


SHIFT_PRIOR_SD = 0.2  # of the unit cube: families' best rates differ by 0.7-2 decades of a 1e-6..1 rate (0.12-0.33)


def _choice_shifted_critic(move_elite: bool = True, shift_critic: bool = True) -> Callable[[], type]:
    return lambda: _make_choice_shifted_critic(move_elite, shift_critic)


def _make_choice_shifted_critic(move_elite: bool, shift_critic: bool) -> type:
    import math

    import numpy as np
    import torch

    from cascaderl_optuna import CascadeSampler
    from cascaderl_optuna._cascade import critic as gp
    from cascaderl_optuna._cascade.coordinates import choice_matrix
    from cascaderl_optuna._cascade.coordinates import heads_key
    from cascaderl_optuna._cascade.coordinates import one_hot
    from cascaderl_optuna._cascade.coordinates import unit_matrix
    from cascaderl_optuna._cascade.history import rank_utilities

    def in_frame(inputs: np.ndarray, shift: np.ndarray, n_tac: int) -> np.ndarray:
        """Each row's tactical part moved by the shifts of its strategic choices: ``x + code @ shift.T``."""
        out = np.array(inputs, dtype=float, copy=True)
        out[:, :n_tac] += out[:, n_tac:] @ shift.T
        return out

    def fit_shifted_kernel(x: np.ndarray, y: np.ndarray, n_tac: int):  # type: ignore[no-untyped-def]
        """The shipped marginal-likelihood fit (same prior, start and optimiser) with one more block of
        hyperparameters: a shift of each tactical coordinate per strategic choice, prior N(0, SHIFT_PRIOR_SD^2)."""
        xt = torch.tensor(x, dtype=torch.float64)
        yt = torch.tensor(gp._standardise(y), dtype=torch.float64)
        n, dim = xt.shape
        log_ls, log_sig, log_noise = gp.fit_start(dim)
        shift = torch.zeros(n_tac, dim - n_tac, dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.LBFGS(
            [log_ls, log_sig, log_noise, shift], max_iter=gp._FIT_ITERATIONS, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            moved = torch.cat([xt[:, :n_tac] + xt[:, n_tac:] @ shift.T, xt[:, n_tac:]], 1)
            shift_prior = 0.5 * (shift / SHIFT_PRIOR_SD).square().sum()
            loss = gp.negative_log_posterior(moved, yt, log_ls, log_sig, log_noise, shift_prior)
            loss.backward()
            return loss

        try:
            optimiser.step(closure)
        except (RuntimeError, torch.linalg.LinAlgError):  # pragma: no cover - ill-conditioned data
            pass
        fitted = [log_ls.detach(), log_sig.detach(), log_noise.detach(), shift.detach()]
        if not all(bool(torch.isfinite(t).all()) for t in fitted):
            return gp.prior_kernel(dim), np.zeros((n_tac, dim - n_tac))
        ls = fitted[0].numpy().clip(math.log(1e-2), math.log(1e2))
        params = gp.KernelParams(ls, float(fitted[1].clamp(-5, 5)), float(fitted[2].clamp(-10, 2)))
        return params, fitted[3].numpy().clip(-1.0, 1.0)

    class ShiftedCritic:
        """The shipped posterior (:func:`gp.build_critic`) on inputs moved into one common frame by the fitted
        shifts of the choices; a query is moved the same way before it is predicted."""

        def __init__(self, posterior, shift, n_tac):  # type: ignore[no-untyped-def]
            self.posterior, self.shift, self.n_tac = posterior, shift, n_tac

        def predict(self, xq):  # type: ignore[no-untyped-def]
            return self.posterior.predict(in_frame(xq, self.shift, self.n_tac))

        def input_similarity(self, x, query, dims):  # type: ignore[no-untyped-def]
            return self.posterior.input_similarity(x, query, dims)

    class ChoiceShiftedCritic(CascadeSampler):
        """The critic's kernel learns, per strategic choice, a shift of each tactical coordinate (fitted with its
        length scales by marginal likelihood), so that one choice's landscape is another's moved: AdamW's
        learning-rate basin a decade below LAMB's. A strategy's low level starts from the elite of the other
        strategies moved into its own frame by the same shifts.
        """

        def _shifted_kernel(self, study, history, heads, tactical):  # type: ignore[no-untyped-def]
            trials = _critic_fit_block(self, history)
            n_tac = len(tactical)

            def fit():  # type: ignore[no-untyped-def]
                fit_x = np.hstack(
                    [
                        np.nan_to_num(unit_matrix(trials, tactical), nan=0.5),
                        one_hot(choice_matrix(trials, heads), heads),
                    ]
                )
                return fit_shifted_kernel(fit_x, rank_utilities(trials, study.direction), n_tac)

            key = ("shifted_kernel", tuple(t.number for t in trials), tuple(tactical.items()), heads_key(heads))
            return self._finished_cache.memo(study, key, fit)

        def _critic(self, study, history, heads, tactical, x, choices):  # type: ignore[no-untyped-def]
            if not heads:
                return super()._critic(study, history, heads, tactical, x, choices)
            if not shift_critic:  # the shipped posterior; the shifts only for moving the elite
                self._shifts = self._shifted_kernel(study, history, heads, tactical)[1]
                return super()._critic(study, history, heads, tactical, x, choices)
            params, shift = self._shifted_kernel(study, history, heads, tactical)
            n_tac = x.shape[1]
            inputs = np.hstack([np.nan_to_num(x, nan=0.5), one_hot(choices, heads)])
            running = np.hstack(
                [
                    np.nan_to_num(unit_matrix(history.running, tactical), nan=0.5),
                    one_hot(choice_matrix(history.running, heads), heads),
                ]
            )
            # the shift is row by row, so moving before build_critic's window and constant liar equals moving after
            posterior = gp.build_critic(
                in_frame(inputs, shift, n_tac),
                history.utilities,
                in_frame(running, shift, n_tac),
                params,
                self._critic_window,
            )
            return ShiftedCritic(posterior, shift, n_tac)

        def _tactical(self, history, decisions, heads, choices, chosen, tactical, x, critic, rng):  # type: ignore[no-untyped-def]
            shift = critic.shift if isinstance(critic, ShiftedCritic) else getattr(self, "_shifts", None)
            if move_elite and shift is not None and heads and len(x):
                # every trial's values as the chosen strategy would have them: moved by its choices' shifts and back
                # by the chosen ones' (a trial of the chosen strategy stays where it is)
                code = one_hot(np.array([chosen]), heads)[0]
                moved = (one_hot(choices, heads) - code[None, :]) @ shift.T
                x = np.clip(x + moved, 0.0, 1.0)  # NaN (absent) stays NaN
            return super()._tactical(history, decisions, heads, choices, chosen, tactical, x, critic, rng)

    ChoiceShiftedCritic.fit_shifted_kernel = staticmethod(fit_shifted_kernel)  # type: ignore[attr-defined]
    ChoiceShiftedCritic.in_frame = staticmethod(in_frame)  # type: ignore[attr-defined]
    return ChoiceShiftedCritic


def _divergence_critic() -> type:
    import numpy as np
    from optuna.trial import TrialState

    from cascaderl_optuna import CascadeSampler
    from cascaderl_optuna._cascade import critic as gp
    from cascaderl_optuna._cascade.coordinates import choice_matrix
    from cascaderl_optuna._cascade.coordinates import one_hot
    from cascaderl_optuna._cascade.coordinates import unit_matrix
    from cascaderl_optuna._cascade.history import rank_utilities

    def diverged(trials, direction):  # type: ignore[no-untyped-def]
        """Runs that blew up: FAIL (Optuna stores a NaN value as one), an infinite value, or a value beyond Tukey's
        far-out fence (above the third quartile by 3 interquartile ranges) of the complete ones; pruned trials are
        never counted."""
        complete = np.array([t.state == TrialState.COMPLETE for t in trials], dtype=bool)
        failed = np.array([t.state == TrialState.FAIL for t in trials], dtype=bool)
        return (
            failed | (complete & ~np.isfinite(_values_lower_is_better(trials, direction))) | _far_out(trials, direction)
        )

    class DivergencePosterior:
        """A posterior of the runs that did not diverge, and the chance of diverging, combined into one value.

        ``predict`` gives ``(1 - p) * mean + p * worst`` with spread ``(1 - p) * sd``: where the classifier says a run
        diverges, the value is the worst non-diverged one's and there is nothing to be optimistic about.
        """

        def __init__(self, value, chance, worst):  # type: ignore[no-untyped-def]
            self.value, self.chance, self.worst = value, chance, worst

        def predict(self, xq):  # type: ignore[no-untyped-def]
            mean, sd = self.value.predict(xq)
            p = np.clip(self.chance.predict(xq)[0], 0.0, 1.0)
            return (1.0 - p) * mean + p * self.worst, (1.0 - p) * sd

        def input_similarity(self, x, query, dims):  # type: ignore[no-untyped-def]
            return self.value.input_similarity(x, query, dims)

    class DivergenceCritic(CascadeSampler):
        """Divergence modelled as a failure of its own, not as the worst values of one smooth landscape.

        The critic's Gaussian process is fitted, and conditioned, on the runs that did not diverge (rank utilities
        among themselves); a second one, with its own fitted kernel, regresses the 0/1 label "diverged" over the same
        inputs (a least-squares classifier, as a constrained BO's feasibility model). With no diverged run in the
        window, the shipped critic.
        """

        def _critic(self, study, history, heads, tactical, x, choices):  # type: ignore[no-untyped-def]
            n = len(history.finished)
            start = max(0, n - self._critic_window)
            window = history.finished[start:]
            bad = diverged(window, study.direction)
            if not bad.any() or (~bad).sum() < 3:
                return super()._critic(study, history, heads, tactical, x, choices)
            fit_block = _critic_fit_block(self, history)
            fit_bad = diverged(fit_block, study.direction)
            kept = [t for t, b in zip(fit_block, fit_bad) if not b]
            if len(kept) < 3:
                return super()._critic(study, history, heads, tactical, x, choices)
            value_params = _memoised_kernel(
                self, study, kept, heads, tactical, lambda ts: rank_utilities(ts, study.direction), "kept_kernel"
            )
            chance_params = (  # no diverged run in the fit block: nothing to fit a label kernel to
                _memoised_kernel(
                    self,
                    study,
                    fit_block,
                    heads,
                    tactical,
                    lambda ts: diverged(ts, study.direction).astype(float),
                    "diverged_kernel",
                )
                if fit_bad.any()
                else value_params
            )
            inputs = np.hstack([np.nan_to_num(x, nan=0.5), one_hot(choices, heads)])[start:]
            running = np.hstack(
                [
                    np.nan_to_num(unit_matrix(history.running, tactical), nan=0.5),
                    one_hot(choice_matrix(history.running, heads), heads),
                ]
            )
            targets = rank_utilities([t for t, b in zip(window, bad) if not b], study.direction)
            value = gp.build_critic(inputs[~bad], targets, running, value_params, len(inputs))
            chance = gp.GaussianProcessCritic(inputs, bad.astype(float), chance_params)
            return DivergencePosterior(value, chance, float(targets.min()))

    DivergenceCritic.diverged = staticmethod(diverged)  # type: ignore[attr-defined]
    return DivergenceCritic


VARIANTS: dict[str, Variant] = {
    "truncated_proposals": Variant(
        "imagined actions and proposals drawn from the low-level Gaussian truncated to the unit cube (re-drawn) "
        "instead of clipped onto it. Why: clipping puts every draw beyond a face onto the face (half of them when "
        "the mean sits on it), and in the CLI example and the LoRA study several decided trials put the learning "
        "rate at its upper bound.",
        _truncated_proposals,
    ),
    "dual_clip": Variant(
        "the low level's PPO loss for a negative advantage capped at 3 times the advantage (dual-clip PPO, Ye et al. "
        "2020). Why: the update re-scores the strategy's real trials, taken by earlier policies, under the current "
        "one; a trial that was far from the policy that took it but is near the current one has an enormous ratio, "
        "and with a negative advantage that one sample decides the Adam step (or overflows it).",
        _dual_clip,
    ),
    "best_strategy_of_8": Variant(
        "the high level draws 8 strategies from its policy and the trial takes the one whose best optimistic critic "
        "value (over the critic-gap candidates: the window's best tactical values and uniform ones) is highest. Why: "
        "the same move as the low level's best-of-64 act step, which won on the held-out suite, one level up.",
        make_high_level_agent_class=_best_strategy_of(8),
        make_sampler_class=_strategy_score_cascade,
    ),
    "floor_shared_by_heads": Variant(
        "the high level's probability floor (0.15) divided among the strategic heads instead of given to each. Why: "
        "with K heads a floor per head makes about 1 - 0.85^K of the trials (48% with 4 heads) take at least one "
        "floor-drawn choice, however clear the evidence; shared, the whole strategy's floor stays near 0.15 "
        "whatever K (the scaling of CMA-ES's margin with the dimension).",
        make_high_level_agent_class=_floor_shared_by_heads,
    ),
    "elite_frame": Variant(
        "the low-level Gaussian in the principal axes of the strategy's better real trials instead of the "
        "parameters' axes (CMA-ES's covariance, here fixed per decision from the elite). Why: on an ill-conditioned, "
        "rotated valley (bbob-mixint f10, where GPSampler pulls ahead late) most draws of an axis-aligned Gaussian "
        "leave the valley, so the best of 64 proposals improves slowly.",
        _elite_frame,
    ),
    "warped_value_critic": Variant(
        "the critic models the objective's values, Yeo-Johnson-warped (the power fitted by maximum likelihood, as "
        "HEBO warps its outputs) and standardised, instead of the rank utilities; the PPO rewards stay rank-based. "
        "Why: a rank's normal score keeps the order of the trials but not how much better the best is, which is what "
        "the end of a study (fine improvement, where GPSampler pulls ahead on bbob-mixint f10) turns on; the warp "
        "keeps magnitudes while taming divergence outliers.",
        make_sampler_class=_value_critic("yeo-johnson"),
    ),
    "refined_acquisition": Variant(
        "the low level's act step searches the critic's optimistic score over the policy's 64 draws, 256 uniform "
        "points and perturbations of the strategy's 3 best trials, then refines the best by a shrinking random local "
        "search (scales 0.02 down to 1e-4). Why: on bbob-mixint f10 (where GPSampler pulls ahead late) the remaining "
        "regret is an error of about 5e-4 of the range in the two most weighted coordinates, finer than the policy's "
        "least spread (0.01), and GPSampler optimises its acquisition to that precision.",
        _refined_acquisition,
    ),
    "value_critic_refined_acquisition": Variant(
        "refined_acquisition with a critic that models the standardised objective values (no warp, as GPSampler) "
        "instead of rank utilities; the PPO rewards stay rank-based. Why: a finer search needs a model that says how "
        "much better a point is; in scratch runs on f10 the pair did better than either change alone.",
        _refined_acquisition,
        make_sampler_class=_value_critic("none"),
    ),
    "tuning_spread": Variant(
        "while the chosen strategy has a strategic choice with fewer than 16 trials in the window (the tuning share's "
        "untuned choices; of the heads every trial has, not conditional ones such as SGD's nesterov), its low "
        "level starts at least 0.15 wide per unit-cube coordinate (0.9 decades of a 1e-6..1 learning rate) "
        "instead of the borrowed elite's spread. Why: in the trace of the trap LoRA landscape llm_family_2 "
        "(benchmarks/results/variants/trap_trace.md), 3-8 of AdamW's first 16 trials per seed sat at 1e-6, "
        "the learning rate's lower bound, and in 35 of its 68 decisions the PPO update left the policy's mean on "
        "that face: its trials that did not diverge were low, its borrowed elite with them, and the tuning share's "
        "trials did not reach the basin 1.2-1.5 decades up.",
        make_sampler_class=_tuning_spread,
    ),
    "fit_without_far_outliers": Variant(
        "the critic's kernel hyperparameters fitted without the complete trials whose value lies beyond Tukey's "
        "far-out fence (worse than Q3 + 3 IQR of the fit block); the posterior still conditions on every trial. Why: "
        "in the trace of the trap LoRA landscape llm_family_2 (benchmarks/results/variants/trap_trace.md) the "
        "critic's optimistic score along the best family's learning rate peaks near its best rate in none of six "
        "seeds and its length scale there is 0.2-1.14 of the cube, while 13-30% of the trials have diverged (a loss "
        "near ln 32000 against about 2) at cliffs that move with the family, the batch size and the warmup, which a "
        "stationary kernel can explain as noise and long length scales.",
        make_sampler_class=_fit_without_far_outliers,
    ),
    "sigma_relative_steps": Variant(
        "the low level's Adam steps on the policy's mean made 0.2 of the policy's spread per dimension instead of "
        "0.05 of the unit cube (the PPO update run in coordinates scaled by the spread; ratios unchanged). Why: in "
        "the trace of llm_family_2 (benchmarks/results/variants/trap_trace.md) one decision's PPO update moved the "
        "best family's learning-rate mean up to 5.5 of its starting spreads, onto a face in 37 of 68 decisions, along"
        " a score that is flat or monotone there: Adam normalises each coordinate's gradient, so in a dimension the "
        "critic is indifferent to the batch's chance correlation moves the mean a full 0.05 per epoch whatever the "
        "spread, and such walks end on the cube's faces (the learning rate at 1e-6 or 1, the batch size at 8 "
        "or 256). Step sizes relative to the search distribution's spread are how CMA-ES and natural evolution "
        "strategies move their mean.",
        _sigma_relative_steps,
    ),
    "tuning_trials_24": Variant(
        "the tuning share keeps every strategic choice untuned until it has 24 trials of its own instead of 16. Why: "
        "in the committed rows of the trap instance llm_family_2, the 9 of 20 seeds that end in AdamW's basin gave "
        "it a median 21 of trials 10-59 and the 11 that miss 11-14, about what the share guarantees "
        "(benchmarks/results/variants/trap_trace.md); this measures what more of them buys, and what it costs early.",
        make_high_level_agent_class=_more_tuning_trials(8),
    ),
    "choice_shifted_critic": Variant(
        "the critic's kernel fits, with its length scales, a shift of each tactical coordinate per strategic choice "
        "(prior sd 0.2 of the unit cube), so that a family's landscape is another's moved along the learning rate; "
        "each strategy's low level starts from the other strategies' elite moved into its frame. Why: in the trace "
        "of the trap LoRA landscape llm_family_2 (benchmarks/results/variants/trap_trace.md) the critic's score "
        "along AdamW's learning rate peaks near its best rate in none of six seeds: a stationary kernel over "
        "(values, one-hot choices) can only say how alike two families are, not that one's basin and cliff sit a "
        "decade below the other's, so LAMB's trials tell it nothing about where AdamW's narrow basin is and AdamW's "
        "first trials start from LAMB's rate, at AdamW's cliff.",
        make_sampler_class=_choice_shifted_critic(),
    ),
    "choice_shifted_critic_only": Variant(
        "choice_shifted_critic without moving the other strategies' elite: the low level starts from the shipped "
        "start, and only the critic's posterior (which scores its imagined actions and proposals) has the shifts. "
        "Why: choice_shifted_critic ended as many studies in the best basin but refined them less (43/77 at the "
        "last trial); this separates its two parts.",
        make_sampler_class=_choice_shifted_critic(move_elite=False),
    ),
    "choice_shifted_start": Variant(
        "choice_shifted_critic's other half alone: the shifts are fitted as there, but only to move the other "
        "strategies' elite into the chosen strategy's frame for its low level's start; the critic is the shipped "
        "one. Why: with the shifted critic alone (choice_shifted_critic_only) the trap instance llm_family_2 ended "
        "in AdamW's basin in 5 of 20 studies, with both parts in 11; and the shifted kernel predicts the next "
        "trials worse than the shipped one.",
        make_sampler_class=_choice_shifted_critic(shift_critic=False),
    ),
    "shipped_rerun": Variant(
        "nothing replaced: the shipped sampler itself, re-run on this machine. Why: the committed cascade rows do not "
        "come back value for value here (llm_family_2, seed 0: trials 0-12 identical, trial 13 3.505027 against "
        "3.504627, then the studies part), with Optuna 5.0 or 5.1 and numpy 1.26 or 2.4 alike, so the arithmetic "
        "differs from the machine that ran them; a variant run here shares only its first trials with its pair. This "
        "row is the comparison's noise floor: what the shipped sampler scores against its own committed rows.",
    ),
    "divergence_critic": Variant(
        "divergence modelled as a failure of its own: the critic's Gaussian process is fitted and conditioned on the "
        "runs that did not diverge (FAIL, non-finite, or beyond Tukey's far-out fence of the complete values: "
        "ranked among themselves), and a second one regresses the label 'diverged'; the critic's value is "
        "(1 - p) * value + p * worst, its spread (1 - p) * sd. Why: a diverged run (loss ln 32000 on the LoRA "
        "landscapes, a decade above the optimum's rate) is a cliff next to the basin; one stationary kernel fitted "
        "through both shortens its learning-rate length scale to follow the cliff and so sees less of the basin, "
        "which may be why an untuned family looks worse than a tuned one.",
        make_sampler_class=_divergence_critic,
    ),
}
VARIANT_SAMPLERS = tuple(f"cascade_{name}" for name in VARIANTS)


def make_variant_sampler(name: str, seed: int, problem: Problem) -> optuna.samplers.BaseSampler:
    """``CascadeSampler`` with variant ``name``'s low-level agent (benchmarks.samplers registers these)."""
    from cascaderl_optuna import CascadeSampler

    variant = VARIANTS[name]
    attributes = {}
    if variant.make_agent_class is not None:
        attributes["_low_level_agent_class"] = variant.make_agent_class()
    if variant.make_high_level_agent_class is not None:
        attributes["_high_level_agent_class"] = variant.make_high_level_agent_class()
    base = variant.make_sampler_class() if variant.make_sampler_class is not None else CascadeSampler
    variant_class = type(f"CascadeSampler_{name}", (base,), attributes)
    return variant_class(seed=seed, strategic_params=problem.strategic_params)
