"""``CascadeSampler``: the Optuna face of the cascade. It does the sampler contract and delegates.

Per trial, after a space-filling start:

1. read the bounded window of trials from storage (:mod:`._history`) and split the relative search
   space into strategic heads and tactical distributions (:mod:`._space`);
2. the high-level agent (:mod:`._high_level`) re-fits its factorised categorical policy with PPO
   on the window and samples the strategy, conditioned on the history encoding
   (:mod:`._encoding`) and on the RUNNING trials' choices;
3. the critic (:mod:`._critic`) models utility over tactical values and strategy; a low-level
   agent (:mod:`._low_level`) for the chosen strategy is initialised from that strategy's best
   trials, improved with PPO (:mod:`._ppo`) on critic-scored imagined actions plus the strategy's
   real trials, and proposes tactical values, of which the critic picks the most promising;
4. the decision and its behaviour log-probabilities are stored in the trial's system attrs
   (:mod:`._attrs`), so the reward, when it arrives, can be credited by any process.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import math
import threading
from typing import Any
import warnings

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.samplers import QMCSampler
from optuna.samplers import RandomSampler
from optuna.study import Study
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch

from cascaderl_optuna._cascade.records import DECISION_KEY
from cascaderl_optuna._cascade.records import FORMAT_VERSION
from cascaderl_optuna._cascade.records import POLICY_KEY
from cascaderl_optuna._cascade.records import read_record
from cascaderl_optuna._cascade.records import write_record
from cascaderl_optuna._cascade.critic import fit_kernel
from cascaderl_optuna._cascade.critic import GaussianProcessCritic
from cascaderl_optuna._cascade.critic import KernelParams
from cascaderl_optuna._cascade.encoding import N_FEATURES
from cascaderl_optuna._cascade.high_level import HighLevelAgent
from cascaderl_optuna._cascade.history import History
from cascaderl_optuna._cascade.history import rank_utilities
from cascaderl_optuna._cascade.history import read_history
from cascaderl_optuna._cascade.low_level import elite_initialisation
from cascaderl_optuna._cascade.low_level import LowLevelAgent
from cascaderl_optuna._cascade.ppo import PPOStats
from cascaderl_optuna._cascade.group_decomposition import IncrementalGroupDecomposedSearchSpace
from cascaderl_optuna._cascade.coordinates import from_unit
from cascaderl_optuna._cascade.coordinates import split_search_space
from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.coordinates import to_unit
from cascaderl_optuna._cascade.trial_cache import FinishedTrialCache


_MIN_CONTEXT_TRIALS_ALONE = 8
_MAX_REAL_BATCH = 50
_GAP_CANDIDATES = 32
_BORROWED_MIN_STD = 0.07
ABLATIONS = (None, "uniform_high_level", "no_low_level_learning", "flat")


@contextlib.contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """The sampler's tensors have a few hundred rows: threads cost more than they save.

    On a busy 2-core machine a multi-threaded 150x150 Cholesky took 140 ms against 0.1 ms on one
    thread, so the sampler's own maths runs on one thread and restores the setting afterwards.
    """
    previous = torch.get_num_threads()
    if previous != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if previous != 1:
            torch.set_num_threads(previous)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


class CascadeSampler(BaseSampler):
    """Hierarchical reinforcement-learning sampler: strategies first, then the numbers.

    Search spaces for fine-tuning mix *strategic* choices (optimizer family, scheduler, LoRA
    target modules) with *tactical* numbers (learning rate, warmup, weight decay) whose good values
    depend on the strategy: SGD's best learning rate is nothing like AdamW's. The cascade splits
    the work. A high-level PPO agent chooses every categorical parameter (and any parameter named
    in ``strategic_params``) from an encoding of the recent trial history, and stops paying for
    strategy families that are clearly worse, while a probability floor keeps every strategy
    reachable. For the chosen strategy, a low-level PPO agent (a Gaussian over the tactical
    values, started from that strategy's best trials) proposes the numbers; its updates are scored
    by a Gaussian-process critic over (tactical values, strategy), so that it learns from many
    imagined actions rather than the handful of real trials per strategy.

    Everything is read from the study's storage: RDB storage, several workers, ask/tell, pruning
    and optuna-dashboard work unchanged, and a new process continues the learning of the last.
    Pruned trials count, ranked after every complete trial (by the step they reached, then their
    last intermediate value). FAIL trials and NaN or infinite values are the worst outcome.

    Example:

        .. code-block:: python

            import optuna
            from cascaderl_optuna import CascadeSampler


            def objective(trial):
                optimizer = trial.suggest_categorical("optimizer", ["adamw", "sgd"])
                lr = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
                best = 3e-4 if optimizer == "adamw" else 0.1
                return (math.log10(lr) - math.log10(best)) ** 2 + (optimizer == "sgd") * 0.1


            study = optuna.create_study(sampler=CascadeSampler(seed=0))
            study.optimize(objective, n_trials=60)

    Args:
        seed: Seed of every random choice. The same seed and the same sequence of results give
            the same suggestions.
        strategic_params: Names of integer or stepped-float parameters to treat as strategic
            (e.g. ``("lora_rank",)``), besides every categorical parameter.
        n_startup_trials: Trials drawn from a space-filling design before the agents act.
        startup: ``"qmc"`` (scrambled Sobol, :class:`~optuna.samplers.QMCSampler`) or
            ``"random"``.
        window: How many of the most recent finished trials the agents learn from (bounds the
            cost per trial).
        critic_window: How many recent finished trials the critic is fitted on.
        critic_refit_interval: The critic's hyperparameters are re-fitted every this many
            finished trials, and once the study is larger every 5% of its finished trials
            (whichever is longer; see :func:`refit_point`). The posterior itself uses every
            trial, every time.
        probability_floor: Share of each strategic head's probability spread uniformly over its
            choices: no strategy's probability falls below ``floor / n_choices``.
        gamma: Discount of the multi-step return over the sequence of trials.
        clip: PPO clipping range of both levels.
        exploration: ``beta`` of the critic's optimism (mean + beta * std).
        high_level_theta: Feature weights of the high-level policy (8 numbers, see
            :mod:`cascaderl_optuna._cascade.encoding`) to start from instead of the built-in prior, or
            ``"pretrained"`` for the weights that ``python -m benchmarks.pretraining``
            learned with PPO over synthetic studies (``cascaderl_optuna/_cascade/weights/high_level.json``).
        ablation: For the ablation study of the benchmarks only: ``"uniform_high_level"``
            (strategies uniformly at random), ``"no_low_level_learning"`` (tactical values
            uniformly at random) or ``"flat"`` (one agent over all parameters: per-choice logits
            without the history encoding, one Gaussian over the tactical values shared by every
            strategy, a critic that does not see the strategy).
    """

    # The agent classes of both levels. ``benchmarks/variants.py`` subclasses the sampler with variants
    # of them that were tried and not adopted, so their rows can be re-run from the repository.
    _low_level_agent: type[LowLevelAgent] = LowLevelAgent
    _high_level_agent_class: type[HighLevelAgent] = HighLevelAgent

    def __init__(
        self,
        *,
        seed: int | None = None,
        strategic_params: Sequence[str] = (),
        n_startup_trials: int = 10,
        startup: str = "qmc",
        window: int = 200,
        critic_window: int = 120,
        critic_refit_interval: int = 10,
        probability_floor: float = 0.15,
        gamma: float = 0.3,
        clip: float = 0.2,
        exploration: float = 1.0,
        high_level_theta: Sequence[float] | str | None = None,
        ablation: str | None = None,
    ) -> None:
        _check(seed is None or isinstance(seed, (int, np.integer)), f"seed must be an int or None, got {seed!r}.")
        _check(
            not isinstance(strategic_params, str),
            "strategic_params must be a sequence of parameter names, e.g. ('lora_rank',), "
            f"not the string {strategic_params!r}.",
        )
        _check(
            isinstance(n_startup_trials, int) and n_startup_trials >= 1,
            f"n_startup_trials must be an int >= 1, got {n_startup_trials!r}.",
        )
        _check(startup in ("qmc", "random"), f"startup must be 'qmc' or 'random', got {startup!r}.")
        _check(isinstance(window, int) and window >= 2, f"window must be an int >= 2, got {window!r}.")
        _check(
            isinstance(critic_window, int) and critic_window >= 2,
            f"critic_window must be an int >= 2, got {critic_window!r}.",
        )
        _check(
            isinstance(critic_refit_interval, int) and critic_refit_interval >= 1,
            f"critic_refit_interval must be an int >= 1, got {critic_refit_interval!r}.",
        )
        _check(
            0.0 < probability_floor < 1.0,
            f"probability_floor must be in (0, 1), got {probability_floor!r}: 0 would let a "
            "strategy's probability vanish, 1 would make the high level uniform.",
        )
        _check(0.0 <= gamma < 1.0, f"gamma must be in [0, 1), got {gamma!r}.")
        _check(0.0 < clip < 1.0, f"clip must be in (0, 1), got {clip!r}.")
        _check(exploration >= 0.0, f"exploration must be >= 0, got {exploration!r}.")
        if isinstance(high_level_theta, str):
            _check(
                high_level_theta == "pretrained",
                f"high_level_theta must be 8 numbers or 'pretrained', got {high_level_theta!r}.",
            )
            from cascaderl_optuna._cascade.pretrained import load_pretrained_theta

            high_level_theta = load_pretrained_theta().tolist()
        if high_level_theta is not None:
            theta = np.asarray(high_level_theta, dtype=float)
            _check(
                theta.shape == (N_FEATURES,) and bool(np.all(np.isfinite(theta))),
                f"high_level_theta must be {N_FEATURES} finite numbers (one weight per history "
                "feature, see cascaderl_optuna._cascade.encoding.FEATURE_NAMES), "
                f"got {high_level_theta!r}.",
            )
        self._theta = None if high_level_theta is None else np.asarray(high_level_theta, float)
        _check(
            ablation in ABLATIONS,
            f"ablation must be one of {ABLATIONS}, got {ablation!r} (leave it None to use the cascade).",
        )
        self._ablation = ablation
        self._strategic_names = tuple(strategic_params)
        for name in self._strategic_names:
            _check(isinstance(name, str), f"strategic_params must hold names (str), got {name!r}.")
        self._n_startup_trials = n_startup_trials
        self._window = window
        self._critic_window = critic_window
        self._critic_refit_interval = critic_refit_interval
        self._floor = probability_floor
        self._gamma = gamma
        self._clip = clip
        self._beta = exploration
        self._seed = seed
        self._entropy = int(np.random.SeedSequence(seed).entropy)
        # Without a seed, QMCSampler warns that every worker must share one; the cascade's
        # workers need not (each scrambles its own Sobol sequence), so it gets a random one.
        qmc_seed = seed if seed is not None else int(np.random.SeedSequence(self._entropy).generate_state(1)[0])
        with warnings.catch_warnings():  # QMCSampler's "experimental" notice is not the user's concern
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._startup: BaseSampler = (
                QMCSampler(seed=qmc_seed, scramble=True, warn_independent_sampling=False)
                if startup == "qmc"
                else RandomSampler(seed=seed)
            )
        self._independent = RandomSampler(seed=None if seed is None else seed + 1)
        self._search_space = IncrementalGroupDecomposedSearchSpace()
        self._finished_cache = FinishedTrialCache()
        self._lock = threading.RLock()
        self.last_diagnostics: dict[str, Any] = {}
        self.last_high_level: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Picklable like optuna's own samplers (Ray Tune and multiprocessing copy the sampler):
        # the lock stays behind and is rebuilt (the trial cache pickles empty).
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- the BaseSampler contract -----------------------------------------------------------
    def reseed_rng(self) -> None:
        self._entropy = int(np.random.SeedSequence().entropy)
        self._startup.reseed_rng()
        self._independent.reseed_rng()

    def _in_startup(self, study: Study) -> bool:
        finished = study._get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED), use_cache=True
        )
        return len(finished) < self._n_startup_trials

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        self._raise_error_if_multi_objective(study)
        if self._in_startup(study):
            return self._startup.infer_relative_search_space(study, trial)
        with self._lock:
            groups = self._search_space.calculate(study)
        space: dict[str, BaseDistribution] = {}
        for group in groups:
            for name, dist in group.items():
                if not dist.single():
                    space[name] = dist
        # Group decomposition iterates over sets, whose order changes with Python's hash seed.
        # Order the parameters as the objective suggests them, by the position each had in the
        # first trial that used it (then by name): a stable order, the same in every process,
        # so decisions are reproducible and the factorised high-level policy always conditions
        # later choices on the same earlier ones.
        position: dict[str, int] = {}
        for t in study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED), use_cache=True):
            for i, name in enumerate(t.distributions):
                position.setdefault(name, i)
            if all(n in position for n in space):
                break
        return {name: space[name] for name in sorted(space, key=lambda n: (position.get(n, 1 << 30), n))}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._raise_error_if_multi_objective(study)
        if not search_space:
            return {}
        if self._in_startup(study):
            return self._startup.sample_relative(study, trial, search_space)
        strategic, tactical = split_search_space(search_space, self._strategic_names)
        trials = study._get_trials(deepcopy=False, use_cache=True)
        history = read_history(trials, study.direction, self._window, trial.number)
        rng = np.random.default_rng([self._entropy, trial.number])
        fixed = trial.system_attrs.get("fixed_params", {}) or {}
        with self._lock, _single_threaded_torch():
            return self._decide(study, trial, history, strategic, tactical, fixed, rng)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._raise_error_if_multi_objective(study)
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    # -- one decision ----------------------------------------------------------------------
    def _decide(
        self,
        study: Study,
        trial: FrozenTrial,
        history: History,
        strategic: list[StrategicParam],
        tactical: dict[str, BaseDistribution],
        fixed: dict[str, Any],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        decision: dict[str, Any] = {"version": FORMAT_VERSION, "strategy": {}, "hl_log_prob": {}}
        policy: dict[str, Any] = {}
        finished = history.finished
        records = self._finished_cache.values(study, finished, DECISION_KEY, _read_decision)
        choices = self._finished_choice_matrix(study, finished, strategic)
        x = self._finished_unit_matrix(study, finished, tactical)
        flat = self._ablation == "flat"
        critic_heads = [] if flat else strategic  # the flat ablation's critic ignores strategy
        onehot = _one_hot(choices, critic_heads)
        critic: GaussianProcessCritic | None = None
        if tactical:
            running_inputs = np.hstack(
                [
                    np.nan_to_num(_unit_matrix(history.running, tactical), nan=0.5),
                    _one_hot(_choice_matrix(history.running, critic_heads), critic_heads),
                ]
            )
            inputs = np.hstack([np.nan_to_num(x, nan=0.5), onehot])
            critic = self._critic(
                study, history, critic_heads, tactical, inputs, running_inputs
            )

        chosen: list[int] = []
        if strategic:
            agent = self._high_level_agent(strategic)
            stats = self._fit_high_level(study, agent, history, strategic, choices, records)
            pending = _choice_matrix(history.running, strategic)
            fixed_idx = {
                k: idx
                for k, head in enumerate(strategic)
                if head.name in fixed and (idx := head.index_of(fixed[head.name])) is not None
            }
            gap_fn = None
            if critic is not None and len(finished) and not flat:
                gap_fn = self._critic_gap_function(
                    critic, x, onehot, history.utilities, strategic, rng
                )
            chosen, log_probs, probs, gaps = agent.act(rng, pending, fixed_idx, gap_fn)
            # In memory only (not stored): what the high level saw and the parameters it acted
            # with, so pre-training can re-score the decision under other feature weights.
            self.last_high_level = {
                "features": agent.last_features,
                "bias": agent.bias.numpy(),
                "theta": agent.theta.numpy(),
                "chosen": chosen,
                "sampled": [k not in fixed_idx for k in range(len(strategic))],
                "log_prob": sum(lp for k, lp in enumerate(log_probs) if k not in fixed_idx),
                "floor": self._floor,
                "uniform": self._ablation == "uniform_high_level",
            }
            decision["critic_gap"] = {}
            for k, (head, c, lp) in enumerate(zip(strategic, chosen, log_probs)):
                params[head.name] = head.choices[c]
                decision["strategy"][head.name] = c
                decision["critic_gap"][head.name] = [round(float(g), 5) for g in gaps[k]]
                if k not in fixed_idx:  # a fixed value was not sampled: off-policy data
                    decision["hl_log_prob"][head.name] = lp
            policy["probs"] = {h.name: [round(float(p_), 6) for p_ in p] for h, p in zip(strategic, probs)}
            policy["entropy"] = float(sum(-(p * np.log(p)).sum() for p in probs))
            policy["high_level"] = stats.as_dict()
        if tactical:
            assert critic is not None
            values, ll_record, ll_stats = self._tactical(
                history, records, strategic, choices, chosen, tactical, x, critic, rng
            )
            params.update(values)
            decision["ll_log_prob"] = ll_record.pop("log_prob")
            decision["ll_policy"] = ll_record
            policy["low_level"] = ll_stats
        write_record(study, trial._trial_id, DECISION_KEY, decision)
        write_record(study, trial._trial_id, POLICY_KEY, _finite(policy))
        self.last_diagnostics = policy
        return params

    def _high_level_agent(self, strategic: list[StrategicParam]) -> HighLevelAgent:
        return self._high_level_agent_class(
            [h.n_choices for h in strategic],
            theta_prior=self._theta,
            floor=self._floor,
            gamma=self._gamma,
            clip=self._clip,
            use_features=self._ablation != "flat",
            uniform=self._ablation == "uniform_high_level",
        )

    def _fit_high_level(
        self,
        study: Study,
        agent: HighLevelAgent,
        history: History,
        strategic: list[StrategicParam],
        choices: np.ndarray,
        records: list[dict[str, Any] | None],
    ) -> PPOStats:
        """The high level's PPO re-fit: on every decision while the study fits in the window, then
        only at the refit points of the study (every 5% of its finished trials), on the window
        that ends there.

        Once the window is full, each new trial changes one part in ``window`` of the agent's
        data, and the PPO re-fit is the largest share of the sampler's cost per trial. Between
        refit points the fitted weights are reused and only the history encoding (the features
        the policy acts on) follows the current window. Like the critic's, the fit is a function
        of the stored trials alone (a fresh process fits the same), and every decision of a
        study's first ``window`` trials is unchanged.
        """
        done = history.all_finished
        if len(done) <= self._window:
            return agent.fit(
                choices,
                history.utilities,
                _behaviour_matrix(history.finished, records, strategic),
                _critic_gap_matrix(records, strategic),
            )
        block = refit_point(len(done), 1, first=self._window)
        fit_trials = done[block - self._window : block]

        def fit() -> tuple[torch.Tensor, torch.Tensor, PPOStats]:
            fitted = self._high_level_agent(strategic)
            fit_records = self._finished_cache.values(
                study, fit_trials, ("high_level_fit", DECISION_KEY), _read_decision
            )
            stats = fitted.fit(
                _choice_matrix(fit_trials, strategic),
                rank_utilities(fit_trials, study.direction),
                _behaviour_matrix(fit_trials, fit_records, strategic),
                _critic_gap_matrix(fit_records, strategic),
            )
            return fitted.bias, fitted.theta, stats

        # Finished trials never change: their numbers (and the heads) name the fit's data.
        key = (
            "high_level",
            tuple(t.number for t in fit_trials),
            _heads_key(strategic),
        )
        agent.bias, agent.theta, stats = self._finished_cache.memo(study, key, fit)
        agent.observe(choices, history.utilities)
        return stats

    def _critic_gap_function(
        self,
        critic: GaussianProcessCritic,
        x: np.ndarray,
        onehot: np.ndarray,
        utilities: np.ndarray,
        strategic: list[StrategicParam],
        rng: np.random.Generator,
    ) -> Callable[[int, list[int]], np.ndarray]:
        """``(k, earlier choices) -> critic_gap`` of each choice of head ``k``.

        Candidates are the window's best trials (their tactical values and strategy codes) and as
        many uniform tactical vectors. For
        choice ``c`` of head ``k`` the codes of heads ``< k`` are set to the choices already made
        and head ``k``'s to ``c``; the feature is the best optimistic critic value over the
        candidates, minus the best over all choices. The function's ``strategy_score`` attribute
        gives that best optimistic value, not a gap, for whole strategies (rows of ``(m, K)``
        choices): what a high-level agent that compares strategies needs (see
        ``benchmarks/variants.py``).
        """
        top = np.argsort(-utilities, kind="stable")[:_GAP_CANDIDATES]
        base = np.hstack([np.nan_to_num(x[top], nan=0.5), onehot[top]])
        n_tac = x.shape[1]
        # Plus uniform tactical values: a choice's own optimum may lie where no trial has been
        # (SGD's learning rate far from AdamW's), and the critic's optimism there counts.
        explore = np.hstack([rng.random((_GAP_CANDIDATES, n_tac)), onehot[rng.choice(top, _GAP_CANDIDATES)]])
        base = np.vstack([base, explore])
        offsets = np.cumsum([0] + [h.n_choices for h in strategic]) + n_tac
        beta = self._beta

        def strategy_score(strategies: np.ndarray) -> np.ndarray:
            codes = _one_hot(strategies, strategic)
            batch = np.vstack(
                [np.hstack([base[:, :n_tac], np.repeat(c[None, :], len(base), 0)]) for c in codes]
            )
            mu, sd = critic.predict(batch)
            return (mu + beta * sd).reshape(len(strategies), len(base)).max(1)

        def gap(k: int, prefix: list[int]) -> np.ndarray:
            rows = base.copy()
            for j, c in enumerate(prefix):
                rows[:, offsets[j] : offsets[j + 1]] = 0.0
                rows[:, offsets[j] + c] = 1.0
            n_choices = strategic[k].n_choices
            rows[:, offsets[k] : offsets[k + 1]] = 0.0
            batch = np.tile(rows, (n_choices, 1))  # one critic call for every choice of head k
            for c in range(n_choices):
                batch[c * len(rows) : (c + 1) * len(rows), offsets[k] + c] = 1.0
            mu, sd = critic.predict(batch)
            best = (mu + beta * sd).reshape(n_choices, len(rows)).max(1)
            return best - best.max()

        gap.strategy_score = strategy_score  # type: ignore[attr-defined]
        return gap

    def _tactical(
        self,
        history: History,
        records: list[dict[str, Any] | None],
        strategic: list[StrategicParam],
        choices: np.ndarray,
        chosen: list[int],
        tactical: dict[str, BaseDistribution],
        x: np.ndarray,
        critic: GaussianProcessCritic,
        rng: np.random.Generator,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
        names = list(tactical)
        finished = history.finished
        utilities = history.utilities
        if self._ablation == "flat":  # one Gaussian for every strategy, a strategy-blind critic
            strategic, chosen = [], []
            choices = np.zeros((len(finished), 0), dtype=int)
        chosen_code = _one_hot(np.array([chosen]), strategic)[0] if strategic else np.zeros(0)

        # Context: how much each trial's strategy behaves like the chosen one, in the critic's
        # eyes (its kernel on the strategy code: a head whose length scale is long, because it
        # barely changes the landscape, barely separates trials). The agent starts from the elite
        # of the trials weighted so; with little similar data it borrows more and explores wider.
        n_tac = x.shape[1]
        codes = np.hstack([np.zeros((len(finished), n_tac)), _one_hot(choices, strategic)])
        query = np.concatenate([np.zeros(n_tac), chosen_code])
        similarity = (
            critic.input_similarity(codes, query, slice(n_tac, None))
            if strategic and len(finished)
            else np.ones(len(finished))
        )
        mean, std = elite_initialisation(x, utilities, similarity)
        if similarity.sum() < _MIN_CONTEXT_TRIALS_ALONE:
            std = np.maximum(std, _BORROWED_MIN_STD)  # borrowed knowledge is uncertain: explore
        if strategic and len(finished):
            exact = ((choices == np.array(chosen)[None, :]) | (choices < 0)).all(1)
        else:
            exact = np.ones(len(finished), dtype=bool)
        beta = self._beta

        def score(actions: np.ndarray) -> np.ndarray:
            inputs = np.hstack([actions, np.repeat(chosen_code[None, :], len(actions), 0)])
            mu, sd = critic.predict(inputs)
            return mu + beta * sd

        learn = self._ablation != "no_low_level_learning"
        agent = self._low_level_agent(mean if learn else np.full(len(names), 0.5), std, clip=self._clip)
        idx = np.flatnonzero(exact)[-_MAX_REAL_BATCH:]
        behaviour = _ll_behaviour_matrix(
            [finished[i] for i in idx], [records[i] for i in idx], names
        )
        stats = agent.improve(score, rng, x[idx], utilities[idx], behaviour) if learn else agent.stats
        action = agent.act(rng, score) if learn else rng.random(len(names))
        values = {n: from_unit(tactical[n], u) for n, u in zip(names, action)}  # type: ignore[arg-type]
        taken = np.array([to_unit(tactical[n], values[n]) for n in names])  # type: ignore[arg-type]
        log_prob = agent.log_prob(taken) if learn else np.zeros(len(names))  # uniform: density 1
        ll_stats = stats.as_dict()
        ll_stats["mean_std"] = float(agent.std.mean())
        ll_record = {
            "log_prob": {n: float(lp) for n, lp in zip(names, log_prob)},
            "mean": {n: round(float(m), 6) for n, m in zip(names, agent.mean)},
            "std": {n: round(float(sd), 6) for n, sd in zip(names, agent.std)},
        }
        return values, ll_record, ll_stats

    def _finished_choice_matrix(
        self, study: Study, finished: list[FrozenTrial], strategic: list[StrategicParam]
    ) -> np.ndarray:
        """``_choice_matrix`` of finished trials, each trial's row computed once (cached)."""
        tag = ("choices", _heads_key(strategic))
        rows = self._finished_cache.values(
            study, finished, tag, lambda t: _choice_matrix([t], strategic)[0]
        )
        return np.array(rows, dtype=int).reshape(len(finished), len(strategic))

    def _finished_unit_matrix(
        self, study: Study, finished: list[FrozenTrial], tactical: dict[str, BaseDistribution]
    ) -> np.ndarray:
        """``_unit_matrix`` of finished trials, each trial's row converted once (cached)."""
        names = list(tactical)
        tag = ("unit", tuple(tactical.items()))
        rows = self._finished_cache.values(
            study, finished, tag, lambda t: _unit_row(t, tactical, names)
        )
        return np.array(rows, dtype=float).reshape(len(finished), len(names))

    def _critic(
        self,
        study: Study,
        history: History,
        strategic: list[StrategicParam],
        tactical: dict[str, BaseDistribution],
        inputs: np.ndarray,
        running: np.ndarray,
    ) -> GaussianProcessCritic:
        """GP over [tactical values, strategy code]; RUNNING trials enter as constant liars.

        A RUNNING trial has no reward yet; it joins the critic's data with the mean utility
        (a constant liar), which lowers the optimism around it, so parallel workers spread out.
        """
        n = len(inputs)
        data_x = inputs[max(0, n - self._critic_window) :]
        targets = self._critic_targets(history.finished, history.utilities, study.direction)
        data_y = targets[max(0, n - self._critic_window) :]
        params = self._kernel_params(study, history, strategic, tactical)
        if len(running):
            liar = np.full(len(running), float(data_y.mean()) if len(data_y) else 0.0)
            data_x = np.vstack([data_x, running])
            data_y = np.concatenate([data_y, liar])
        return GaussianProcessCritic(data_x, data_y, params)

    def _critic_targets(
        self, trials: Sequence[FrozenTrial], utilities: np.ndarray, direction: StudyDirection
    ) -> np.ndarray:
        """What the critic models for ``trials``: their rank utilities (a hook for ``benchmarks/variants.py``)."""
        return utilities

    def _kernel_params(
        self,
        study: Study,
        history: History,
        strategic: list[StrategicParam],
        tactical: dict[str, BaseDistribution],
    ) -> KernelParams:
        """The critic's hyperparameters, re-fitted only at the refit points of the study.

        They are fitted on the last `critic_window` trials of the study's first ``b`` finished
        trials (``b`` = the latest refit point, :func:`refit_point`), scored among themselves, so
        the fit is a function of the stored history alone (a fresh process fits the same) and
        costs one marginal-likelihood optimisation per block of trials. The posterior itself
        always uses every trial of the window.
        """
        done = history.all_finished
        block = refit_point(len(done), self._critic_refit_interval)
        fit_trials = done[max(0, block - self._critic_window) : block]
        if len(fit_trials) < 2:
            fit_trials = done[-self._critic_window :]

        def fit() -> KernelParams:
            fit_x = np.hstack(
                [
                    np.nan_to_num(_unit_matrix(fit_trials, tactical), nan=0.5),
                    _one_hot(_choice_matrix(fit_trials, strategic), strategic),
                ]
            )
            utilities = rank_utilities(fit_trials, study.direction)
            return fit_kernel(fit_x, self._critic_targets(fit_trials, utilities, study.direction))

        # Finished trials never change: their numbers (and the space) name the fit's data.
        key = (
            "critic_kernel",
            tuple(t.number for t in fit_trials),
            tuple(tactical.items()),
            _heads_key(strategic),
        )
        return self._finished_cache.memo(study, key, fit)


def refit_point(n_finished: int, interval: int, first: int | None = None) -> int:
    """The latest point ``<= n_finished`` at which a fit is re-done (0 before the first point).

    Every ``interval`` finished trials at first, then every 5% of the finished trials once that
    is longer: the points are ``b_0 = first`` (default: ``interval``) and
    ``b_(j+1) = b_j + max(interval, b_j // 20)``. The critic's hyperparameters use
    ``interval=critic_refit_interval``; the high level, ``interval=1, first=window``.
    A critic fit costs a cubic marginal-likelihood optimisation on the critic window; with a
    fixed interval it was a third of the sampler's time per trial in a profiled 400-trial study,
    while the hyperparameters of a large study barely move between fits. With the default
    interval of 10 the points are the multiples of 10 up to 220 (the benchmarks' 200-trial
    studies are unchanged), then 231, 242, ... and every 50 trials by 1,000. A fresh process
    computes the same points from the trial count.
    """
    block, nxt = 0, interval if first is None else first
    while nxt <= n_finished:
        block = nxt
        nxt = block + max(interval, block // 20)
    return block


def _heads_key(heads: Sequence[StrategicParam]) -> tuple:
    """The strategic heads as part of a cache key: what a cached choice index refers to."""
    return tuple((h.name, h.choices) for h in heads)


def _choice_matrix(trials: Sequence[FrozenTrial], heads: Sequence[StrategicParam]) -> np.ndarray:
    """``(n, K)`` choice index of each trial's strategic values; -1 where absent or foreign."""
    out = np.full((len(trials), len(heads)), -1, dtype=int)
    for i, t in enumerate(trials):
        for k, head in enumerate(heads):
            if head.name in t.params:
                idx = head.index_of(t.params[head.name])
                if idx is not None:
                    out[i, k] = idx
    return out


def _behaviour_matrix(
    trials: Sequence[FrozenTrial],
    records: Sequence[dict[str, Any] | None],
    heads: Sequence[StrategicParam],
) -> np.ndarray:
    """``(n, K)`` stored high-level behaviour log-probabilities; NaN where unknown.

    Unknown means: the trial was not sampled by the cascade's high level (space-filling start,
    another sampler, ``enqueue_trial``), or the value it ran with differs from the one chosen.
    """
    out = np.full((len(trials), len(heads)), np.nan)
    for i, (t, record) in enumerate(zip(trials, records)):
        if record is None:
            continue
        strategy = record.get("strategy", {})
        log_probs = record.get("hl_log_prob", {})
        for k, head in enumerate(heads):
            if head.name in t.params and head.name in log_probs:
                if strategy.get(head.name) == head.index_of(t.params[head.name]):
                    out[i, k] = float(log_probs[head.name])
    return out


def _critic_gap_matrix(
    records: Sequence[dict[str, Any] | None], heads: Sequence[StrategicParam]
) -> np.ndarray:
    """``(n, K, max choices)`` the ``critic_gap`` feature each stored decision saw; NaN if none."""
    c_max = max((h.n_choices for h in heads), default=1)
    out = np.full((len(records), len(heads), c_max), np.nan)
    for i, record in enumerate(records):
        if record is None:
            continue
        gaps = record.get("critic_gap", {})
        for k, head in enumerate(heads):
            g = gaps.get(head.name)
            if isinstance(g, list) and len(g) == head.n_choices:
                out[i, k, : head.n_choices] = g
    return out


def _ll_behaviour_matrix(
    trials: Sequence[FrozenTrial], records: Sequence[dict[str, Any] | None], names: Sequence[str]
) -> np.ndarray:
    """``(n, d)`` stored low-level behaviour log-probabilities per tactical dimension."""
    out = np.full((len(trials), len(names)), np.nan)
    for i, (t, record) in enumerate(zip(trials, records)):
        if record is None or t.system_attrs.get("fixed_params"):
            continue
        log_probs = record.get("ll_log_prob", {})
        for j, name in enumerate(names):
            if name in log_probs and name in t.params:
                out[i, j] = float(log_probs[name])
    return out


def _unit_matrix(
    trials: Sequence[FrozenTrial], tactical: dict[str, BaseDistribution]
) -> np.ndarray:
    """``(n, d)`` unit-cube coordinates; NaN where a trial lacks the parameter or it changed."""
    names = list(tactical)
    rows = [_unit_row(t, tactical, names) for t in trials]
    return np.array(rows, dtype=float).reshape(len(trials), len(names))


def _unit_row(
    trial: FrozenTrial, tactical: dict[str, BaseDistribution], names: list[str]
) -> list[float]:
    """One trial's row of :func:`_unit_matrix`."""
    row = [math.nan] * len(names)
    for j, name in enumerate(names):
        dist = tactical[name]
        value = trial.params.get(name)
        if value is None or not isinstance(trial.distributions.get(name), type(dist)):
            continue
        if dist.log and value <= 0:  # type: ignore[union-attr]
            continue
        row[j] = to_unit(dist, value)  # type: ignore[arg-type]
    return row


def _read_decision(trial: FrozenTrial) -> dict[str, Any] | None:
    return read_record(trial, DECISION_KEY)


def _one_hot(choices: np.ndarray, heads: Sequence[StrategicParam]) -> np.ndarray:
    """One-hot code of each row's strategic choices (all zeros for an absent head)."""
    n = choices.shape[0]
    blocks = []
    for k, head in enumerate(heads):
        block = np.zeros((n, head.n_choices))
        rows = np.flatnonzero(choices[:, k] >= 0)
        block[rows, choices[rows, k]] = 1.0
        blocks.append(block)
    return np.hstack(blocks) if blocks else np.zeros((n, 0))


def _finite(obj: Any) -> Any:
    """Replace non-finite floats (JSON cannot carry them) by None, recursively."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
