"""``CascadeSampler``: the Optuna face of the cascade. It does the sampler contract and delegates.

Per trial, after a space-filling start:

1. read the bounded window of trials from storage (:mod:`._cascade.history`) and split the
   relative search space into strategic heads and tactical distributions
   (:mod:`._cascade.coordinates`);
2. the critic (:mod:`._cascade.critic`) models utility over (tactical values, strategy), with
   hyperparameters re-fitted on the schedule of :mod:`._cascade.refit`;
3. the high-level agent (:mod:`._cascade.high_level`) is re-fitted with PPO on the window and
   samples the strategy from the history encoding (:mod:`._cascade.encoding`), the RUNNING
   trials' choices and the critic's optimistic value of each choice, keeping a share for the
   choices that have not had the trials to be tuned yet;
4. a low-level agent (:mod:`._cascade.low_level`) for the chosen strategy starts from the elite
   of the trials the critic finds similar, improves with PPO (:mod:`._cascade.ppo`) on
   critic-scored imagined actions plus the strategy's real trials, and proposes the numbers;
5. the decision and its behaviour log-probabilities are stored with the trial
   (:mod:`._cascade.records`), so the reward, when it arrives, can be credited by any process.

With ``warm_start``, an earlier study is prior knowledge (:mod:`._cascade.warm_start`): the start's
first trials are its best configuration of each strategy family, its trials count towards each
family's tuning trials at step 3, and its elite joins each strategy's start at step 4 with a weight
that fades as the strategy's own trials arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import datetime
import math
import threading
from typing import Any
from typing import cast
import warnings
import weakref

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.samplers import QMCSampler
from optuna.samplers import RandomSampler
from optuna.storages import BaseStorage
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
from threadpoolctl import ThreadpoolController
import torch

from cascaderl_optuna._cascade.agent_protocols import HighLevelAgentFactory
from cascaderl_optuna._cascade.agent_protocols import HighLevelPolicy
from cascaderl_optuna._cascade.agent_protocols import LowLevelAgentFactory
from cascaderl_optuna._cascade.coordinates import check_strategic
from cascaderl_optuna._cascade.coordinates import choice_matrix
from cascaderl_optuna._cascade.coordinates import critic_input
from cascaderl_optuna._cascade.coordinates import from_unit
from cascaderl_optuna._cascade.coordinates import heads_key
from cascaderl_optuna._cascade.coordinates import parameter_order
from cascaderl_optuna._cascade.coordinates import split_search_space
from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.coordinates import strategy_code
from cascaderl_optuna._cascade.coordinates import to_unit
from cascaderl_optuna._cascade.coordinates import unit_matrix
from cascaderl_optuna._cascade.coordinates import unit_row
from cascaderl_optuna._cascade.critic import build_critic
from cascaderl_optuna._cascade.critic import fit_kernel
from cascaderl_optuna._cascade.critic import GaussianProcessCritic
from cascaderl_optuna._cascade.critic import KernelParams
from cascaderl_optuna._cascade.encoding import critic_gap_candidates
from cascaderl_optuna._cascade.encoding import critic_gap_function
from cascaderl_optuna._cascade.encoding import N_FEATURES
from cascaderl_optuna._cascade.group_decomposition import IncrementalGroupDecomposedSearchSpace
from cascaderl_optuna._cascade.high_level import HighLevelAgent
from cascaderl_optuna._cascade.history import History
from cascaderl_optuna._cascade.history import rank_utilities
from cascaderl_optuna._cascade.history import read_history
from cascaderl_optuna._cascade.history import without_stale
from cascaderl_optuna._cascade.low_level import elite_initialisation
from cascaderl_optuna._cascade.low_level import LowLevelAgent
from cascaderl_optuna._cascade.low_level import MAX_REAL_BATCH
from cascaderl_optuna._cascade.low_level import optimistic_score
from cascaderl_optuna._cascade.low_level import same_strategy
from cascaderl_optuna._cascade.low_level import strategy_start
from cascaderl_optuna._cascade.optuna_compat import heartbeat_enabled
from cascaderl_optuna._cascade.optuna_compat import in_optimize_loop
from cascaderl_optuna._cascade.optuna_compat import is_multi_objective
from cascaderl_optuna._cascade.optuna_compat import owning_study
from cascaderl_optuna._cascade.optuna_compat import process_constraints_after_trial
from cascaderl_optuna._cascade.optuna_compat import record_heartbeat
from cascaderl_optuna._cascade.optuna_compat import stale_trial_ids
from cascaderl_optuna._cascade.optuna_compat import study_id
from cascaderl_optuna._cascade.optuna_compat import study_storage
from cascaderl_optuna._cascade.optuna_compat import study_trials
from cascaderl_optuna._cascade.optuna_compat import trial_id
from cascaderl_optuna._cascade.orphans import OrphanSweep
from cascaderl_optuna._cascade.ppo import PPOStats
from cascaderl_optuna._cascade.proposals import StrategyChoice
from cascaderl_optuna._cascade.proposals import TacticalProposal
from cascaderl_optuna._cascade.records import critic_gaps
from cascaderl_optuna._cascade.records import Decision
from cascaderl_optuna._cascade.records import DECISION_KEY
from cascaderl_optuna._cascade.records import high_level_behaviour
from cascaderl_optuna._cascade.records import low_level_behaviour
from cascaderl_optuna._cascade.records import PolicyDiagnostics
from cascaderl_optuna._cascade.refit import critic_fit_range
from cascaderl_optuna._cascade.refit import high_level_fit_range
from cascaderl_optuna._cascade.trial_cache import FinishedTrialCache
from cascaderl_optuna._cascade.warm_start import blend_start
from cascaderl_optuna._cascade.warm_start import design_value
from cascaderl_optuna._cascade.warm_start import WarmStart


_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


_blas_controller: ThreadpoolController | None = None


def _blas_threads() -> ThreadpoolController:
    """threadpoolctl's view of the BLAS libraries loaded in this process, made once: inspecting the loaded libraries
    is far slower than limiting them through a controller already made, and the limit is set on every decision."""
    global _blas_controller
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    return _blas_controller


@contextlib.contextmanager
def _single_threaded_maths() -> Iterator[None]:
    """The sampler's arrays have a few hundred rows: threads cost more than they save.

    Spreading such small factorisations over threads is far slower than one thread on a busy
    machine (a worker's threads compete with the objective's), so the sampler's own maths (torch,
    and NumPy's BLAS through threadpoolctl, whatever the user's environment sets) runs on one
    thread and restores the settings afterwards.

    The limit is process-wide, not per thread: torch's and BLAS's thread pools belong to the
    process. While a decision runs, anything else in the process that uses them runs on one thread
    too, e.g. the objective of another trial in ``study.optimize(n_jobs=...)``, whose NumPy or
    torch code runs single-threaded until the decision ends. (Each decision is short, and the
    setting comes back after it.)
    """
    previous = torch.get_num_threads()
    if previous != 1:
        torch.set_num_threads(1)
    try:
        with _blas_threads().limit(limits=1, user_api="blas"):
            yield
    finally:
        if previous != 1:
            torch.set_num_threads(previous)


def _entropy(seed: int | None) -> int:
    """The root of every random draw: the seed's, or fresh entropy from the OS without one."""
    entropy = np.random.SeedSequence(seed).entropy
    assert isinstance(entropy, int)
    return entropy


def _strategy_similarity(
    critic: GaussianProcessCritic, choices: np.ndarray, heads: list[StrategicParam], code: np.ndarray
) -> np.ndarray:
    """How much each row of ``choices`` behaves like the strategy ``code`` in the critic's eyes (its kernel on the
    strategy part of the input alone); all ones without strategic heads."""
    if not heads or not len(choices):
        return np.ones(len(choices))
    return critic.strategy_similarity(critic_input(np.zeros((len(choices), 0)), choices, heads), code)


class _StudySet:
    """A set of studies, each named by its storage and its id there (in-memory storages all number their first study
    0, so the id alone cannot tell). Storages are held by weak references; a copy (pickle) starts empty, and checks
    its studies again."""

    def __init__(self) -> None:
        self._ids: weakref.WeakKeyDictionary[BaseStorage, set[int]] = weakref.WeakKeyDictionary()

    def __contains__(self, study: object) -> bool:
        study = cast(Study, study)
        return study_id(study) in self._ids.get(study_storage(study), ())

    def add(self, study: Study) -> None:
        self._ids.setdefault(study_storage(study), set()).add(study_id(study))

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_int(value: object) -> bool:
    """An int (NumPy's too), but not a bool: ``window=True`` is a mistake, not 1."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    """A real number (an int or a float, NumPy's too), but not a bool; checked before any comparison, so that
    ``gamma='0.9'`` is refused by name instead of by ``'<' not supported``."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_iterable(value: object) -> bool:
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


def _given(value: object) -> str:
    return f"the string {value!r}" if isinstance(value, str) else f"{type(value).__name__}: {value!r}"


class CascadeSampler(BaseSampler):
    """Hierarchical reinforcement-learning sampler: strategies first, then the numbers.

    Search spaces for fine-tuning mix *strategic* choices (optimizer family, scheduler, LoRA
    target modules) with *tactical* numbers (learning rate, warmup, weight decay) whose good values
    depend on the strategy: SGD's best learning rate is nothing like AdamW's. The cascade splits
    the work. A high-level PPO agent chooses every categorical parameter (and any parameter named
    in ``strategic_params``) from an encoding of the recent trial history, and stops paying for
    strategy families that are clearly worse, while a probability floor keeps every strategy
    reachable and no choice is judged before it has had trials enough to tune its own numbers
    (a family tried only at another family's learning rate looks worse than it is). For the
    chosen strategy, a low-level PPO agent (a Gaussian over the tactical values, started from
    that strategy's best trials) proposes the numbers; its updates are scored
    by a Gaussian-process critic over (tactical values, strategy), so that it learns from many
    imagined actions rather than the handful of real trials per strategy.

    Everything is read from the study's storage: RDB storage, several workers, ask/tell, pruning
    and optuna-dashboard work unchanged, and a new process continues the learning of the last.
    Pruned trials count, ranked after every complete trial (by the step they reached, then their
    last intermediate value). Infeasible trials (a constraint value above 0) rank after every
    feasible one, by how far they miss. FAIL trials and NaN or infinite values are the worst
    outcome. The sampler is single-objective: a multi-objective study raises at its first trial.

    Each decision runs torch and NumPy's BLAS on one thread, and that limit is process-wide: with
    ``study.optimize(n_jobs=...)`` an objective running in another thread meanwhile does its NumPy
    or torch maths on one thread too, until the decision ends (the setting then comes back).

    Example:

        .. code-block:: python

            import math

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
        seed: Seed of every random choice (``None`` or an int >= 0). The same seed and the same
            sequence of results give the same suggestions.
        strategic_params: Names of integer or stepped-float parameters to treat as strategic
            (e.g. ``("lora_rank",)``), besides every categorical parameter. A continuous float
            named here raises ``ValueError`` at the first trial after one has suggested it; a name
            no trial of the start-up suggested is warned about when it ends (``UserWarning``, once per study).
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
        pending_timeout: Seconds after its start at which a RUNNING trial stops counting as pending
            (the high level's pending share, the critic's constant liar), for storages without
            heartbeats, where a dead worker's trial stays RUNNING for ever. ``None`` (the default):
            every RUNNING trial is pending. With heartbeats (``RDBStorage(heartbeat_interval=...)``)
            a trial whose heartbeat is older than the grace period is not pending, whatever this is.
        constraints_func: Optuna's convention (as in ``TPESampler`` and ``GPSampler``): called
            with each COMPLETE or PRUNED trial after it ends, returns a sequence of floats, and the
            trial is feasible when all are <= 0. The values are stored with the trial (system
            attribute ``constraints``), so ``study.best_trial`` skips infeasible trials. Values an
            objective sets itself with ``trial.set_constraint`` count the same way, with or without
            this function.
        warm_start: An earlier, related study (an ``optuna.Study`` from any storage, e.g.
            ``optuna.load_study(study_name="lora-7b", storage="postgresql://...")``, or its trials)
            to start from when the model, the data or the sequence length changed. It is read once,
            here, as prior knowledge, not as values of this study's objective: its best configuration
            of each strategy family opens the study (evaluated anew), its trials count towards each
            family's tuning trials, and its elite seeds each strategy's low level with a weight that
            fades as this study's own trials arrive (:mod:`cascaderl_optuna._cascade.warm_start`).
            Every worker of a study should get the same one. Its direction must be this study's: a
            maximised study opening a minimised one would start from the worst points, so the first
            trial raises ``ValueError`` instead (values are never flipped). A sequence of trials carries
            no direction and is read as minimised (refused in a maximised study: pass the Study).
    """

    # -- ablation seams (benchmarks/ablations.py subclasses the sampler with other values; not a public API) ----
    _high_level_agent_class: HighLevelAgentFactory = HighLevelAgent
    """Makes the high-level agent of each decision: anything that satisfies ``agent_protocols.HighLevelPolicy``."""
    _low_level_agent_class: LowLevelAgentFactory = LowLevelAgent
    """Makes the low-level agent of each decision: anything that satisfies ``agent_protocols.LowLevelPolicy``."""
    _ordinal_levels: bool = False
    """Research seam (branch research-ordinal): the critic codes a head of numeric levels as one ordered number."""
    _critic_sees_strategy: bool = True
    """False: the critic and the low level do not see the strategy (the ``flat`` ablation): the critic models the
    tactical values alone, one low-level start is shared by every strategy, and the high level gets no
    ``critic_gap``."""

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
        pending_timeout: float | None = None,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        warm_start: Study | Sequence[FrozenTrial] | None = None,
    ) -> None:
        _check(
            seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0),
            f"seed must be None (fresh randomness) or an int >= 0, e.g. seed=0; got {seed!r}.",
        )
        _check(
            not isinstance(strategic_params, str) and _is_iterable(strategic_params),
            "strategic_params must be a sequence of parameter names, e.g. ('lora_rank',), "
            f"not {_given(strategic_params)}.",
        )
        _check(
            _is_int(n_startup_trials) and n_startup_trials >= 1,
            f"n_startup_trials must be an int >= 1, got {n_startup_trials!r}.",
        )
        _check(
            isinstance(startup, str) and startup in ("qmc", "random"),
            f"startup must be 'qmc' or 'random', got {startup!r}.",
        )
        _check(_is_int(window) and window >= 2, f"window must be an int >= 2, got {window!r}.")
        _check(
            _is_int(critic_window) and critic_window >= 2,
            f"critic_window must be an int >= 2, got {critic_window!r}.",
        )
        _check(
            _is_int(critic_refit_interval) and critic_refit_interval >= 1,
            f"critic_refit_interval must be an int >= 1, got {critic_refit_interval!r}.",
        )
        _check(
            _is_real(probability_floor) and 0.0 < probability_floor < 1.0,
            f"probability_floor must be a number in (0, 1), got {probability_floor!r}: 0 would let a "
            "strategy's probability vanish, 1 would make the high level uniform.",
        )
        _check(_is_real(gamma) and 0.0 <= gamma < 1.0, f"gamma must be a number in [0, 1), got {gamma!r}.")
        _check(_is_real(clip) and 0.0 < clip < 1.0, f"clip must be a number in (0, 1), got {clip!r}.")
        _check(
            _is_real(exploration) and 0.0 <= exploration < math.inf,
            f"exploration must be a finite number >= 0, got {exploration!r}.",
        )
        _check(
            pending_timeout is None or (_is_real(pending_timeout) and pending_timeout > 0),
            f"pending_timeout must be a number of seconds > 0 or None (off), got {pending_timeout!r}.",
        )
        self._pending_timeout = None if pending_timeout is None else float(pending_timeout)
        _check(
            constraints_func is None or callable(constraints_func),
            f"constraints_func must be a function of a FrozenTrial returning a sequence of floats "
            f"(feasible when all are <= 0), or None; got {constraints_func!r}.",
        )
        self._constraints_func = constraints_func
        if isinstance(high_level_theta, str):
            _check(
                high_level_theta == "pretrained",
                f"high_level_theta must be {N_FEATURES} numbers or 'pretrained', got {high_level_theta!r}.",
            )
            from cascaderl_optuna._cascade.pretrained import load_pretrained_theta

            high_level_theta = load_pretrained_theta().tolist()
        if high_level_theta is not None:
            _check(
                _is_iterable(high_level_theta)
                and all(_is_real(w) for w in high_level_theta)
                and np.shape(high_level_theta) == (N_FEATURES,)
                and bool(np.all(np.isfinite(np.asarray(high_level_theta, dtype=float)))),
                f"high_level_theta must be {N_FEATURES} finite numbers (one weight per history "
                "feature, see cascaderl_optuna._cascade.encoding.FEATURE_NAMES), "
                f"got {high_level_theta!r}.",
            )
        self._theta = None if high_level_theta is None else np.asarray(high_level_theta, float)
        self._strategic_names = tuple(strategic_params)
        for name in self._strategic_names:
            _check(isinstance(name, str), f"strategic_params must hold names (str), got {name!r}.")
        self._n_startup_trials = n_startup_trials
        self._warm = None if warm_start is None else WarmStart.from_study(warm_start, self._strategic_names)
        self._design = [] if self._warm is None else self._warm.design(n_startup_trials)
        self._window = window
        self._critic_window = critic_window
        self._critic_refit_interval = critic_refit_interval
        self._floor = probability_floor
        self._gamma = gamma
        self._clip = clip
        self._beta = exploration
        self._entropy = _entropy(seed)
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
        self._orphan_sweep = OrphanSweep()
        self._checked_studies = _StudySet()  # the studies whose checks are done (_check_study)

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
    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        # Optuna starts a trial's heartbeat thread only once study.ask() has returned, and its first
        # beat is written from that thread: a worker killed before it leaves a RUNNING trial with no
        # heartbeat, which fail_stale_trials never fails. So the trial gets its first beat here, as soon
        # as it exists. Only inside study.optimize (which keeps beating): ask-and-tell trials get no
        # heartbeats from Optuna, and a single one would make them look stale to other workers.
        # A worker killed even earlier (between Optuna's create_new_trial and this hook) leaves a trial
        # that never beats: every worker fails those orphans, once per grace period (._cascade.orphans).
        if in_optimize_loop(study) and heartbeat_enabled(study_storage(study)):
            record_heartbeat(study, trial)
            self._orphan_sweep(owning_study(study))

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        if self._constraints_func is not None:
            process_constraints_after_trial(self._constraints_func, study, trial, state)

    def reseed_rng(self) -> None:
        self._entropy = _entropy(None)
        self._startup.reseed_rng()
        self._independent.reseed_rng()

    def _in_startup(self, study: Study) -> bool:
        finished = study_trials(study, _FINISHED)
        return len(finished) < self._n_startup_trials

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        self._check_single_objective(study)
        if study not in self._checked_studies:  # read without the lock: a study once in the set stays in it
            with self._lock:
                if study not in self._checked_studies:
                    self._check_study(study)
        if trial.number < len(self._design):  # the warm start's design: parameter by parameter
            return {}
        if self._in_startup(study):
            return self._startup.infer_relative_search_space(study, trial)
        with self._lock:
            groups = self._search_space.calculate(study)
        space = {name: dist for group in groups for name, dist in group.items() if not dist.single()}
        finished = study_trials(study, _FINISHED)
        return {name: space[name] for name in parameter_order(finished, space)}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._check_single_objective(study)
        if not search_space:
            return {}
        if self._in_startup(study):
            return self._startup.sample_relative(study, trial, search_space)
        heads, tactical = split_search_space(search_space, self._strategic_names)
        history = read_history(study_trials(study), study.direction, self._window, trial.number)
        if history.running:
            history = self._without_dead(study, history)
        rng = np.random.default_rng([self._entropy, trial.number])
        fixed = trial.system_attrs.get("fixed_params", {}) or {}
        with self._lock, _single_threaded_maths():
            return self._decide(study, trial, history, heads, tactical, fixed, rng)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._check_single_objective(study)
        if trial.number < len(self._design) and param_name in self._design[trial.number]:
            value = design_value(self._design[trial.number][param_name], param_distribution)
            if value is not None:
                return value
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def _without_dead(self, study: Study, history: History) -> History:
        """The history without RUNNING trials whose worker is gone (see :func:`without_stale`)."""
        stale = stale_trial_ids(study)
        if not stale and self._pending_timeout is None:
            return history
        return without_stale(history, set(stale), self._pending_timeout, datetime.datetime.now())

    def _check_study(self, study: Study) -> None:
        """The arguments that can only be checked against the study; called for each trial until the start-up
        is over, then never again for that study (``_checked_studies``; a sampler reused for another study checks
        that one too). Called under the lock, so with ``study.optimize(n_jobs=...)`` the warning fires once.

        ``warm_start``'s direction must be the study's (checked at the first trial). A parameter named in
        ``strategic_params`` must be able to be strategic: a continuous float is refused at the first trial
        after a finished trial has suggested it. A name no trial of the start-up has suggested is warned about
        once, when the start-up is over: not earlier, because a parameter suggested in one branch only (a LoRA
        rank when the adapter is LoRA) may be missing from the first trials. Optuna asks for the search space at
        a trial's first ``suggest_*``, so a refusal raises inside the objective before it has done any work:
        ``study.optimize`` fails that trial and re-raises, and nothing stored is lost or changed.
        """
        if self._warm is not None and self._warm.direction != study.direction:
            raise ValueError(self._warm.direction_mismatch(study.direction))
        finished = study_trials(study, _FINISHED)
        seen: dict[str, BaseDistribution] = {}
        for t in finished:
            seen.update(t.distributions)
        for name in self._strategic_names:
            if name in seen:
                check_strategic(name, seen[name])
        if len(finished) < self._n_startup_trials:
            return
        self._checked_studies.add(study)
        unknown = sorted(set(self._strategic_names) - set(seen))
        if unknown:
            warnings.warn(
                f"strategic_params names {unknown}, which no trial of study {study.study_name!r} has suggested "
                f"(its parameters: {sorted(seen)}). Check the spelling; a name that is not a parameter is ignored.",
                UserWarning,
                stacklevel=3,
            )

    def _check_single_objective(self, study: Study) -> None:
        if is_multi_objective(study):
            raise ValueError(
                f"CascadeSampler is single-objective, but study {study.study_name!r} has "
                f"{len(study.directions)} objectives. Optimise one objective (or a weighted sum "
                "of them) with CascadeSampler, or use a multi-objective sampler such as "
                "optuna.samplers.NSGAIISampler or TPESampler for this study."
            )

    # -- one decision ----------------------------------------------------------------------
    def _decide(
        self,
        study: Study,
        trial: FrozenTrial,
        history: History,
        heads: list[StrategicParam],
        tactical: dict[str, BaseDistribution],
        fixed: dict[str, Any],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        finished = history.finished
        decisions = self._finished_cache.values(study, finished, DECISION_KEY, Decision.read)
        choices = self._finished_choices(study, finished, heads)
        x = self._finished_units(study, finished, tactical)
        # the heads the critic and the low level see: all of them, or none in the `flat` ablation
        critic_heads = heads if self._critic_sees_strategy else []
        if self._ordinal_levels:
            for head in heads:
                head.ordinal = head.numeric
        critic_choices = choices[:, : len(critic_heads)]
        critic_inputs = critic_input(x, critic_choices, critic_heads)
        critic = self._critic(study, history, critic_heads, tactical, critic_inputs) if tactical else None
        strategy = self._strategy(study, history, heads, choices, decisions, fixed, critic, x, critic_inputs, rng)
        params = dict(strategy.params)
        proposal = None
        if tactical:
            assert critic is not None
            chosen = strategy.chosen[: len(critic_heads)]
            proposal = self._tactical(
                history, decisions, critic_heads, critic_choices, chosen, tactical, x, critic, rng
            )
            params.update(proposal.values)
        Decision(
            strategy={h.name: c for h, c in zip(heads, strategy.chosen)},
            hl_log_prob=strategy.log_prob,
            critic_gap=strategy.critic_gap,
            ll_log_prob=None if proposal is None else proposal.log_prob,
            ll_mean=None if proposal is None else proposal.mean,
            ll_std=None if proposal is None else proposal.std,
        ).write(study, trial_id(trial))
        PolicyDiagnostics(
            probs=strategy.probs,
            entropy=strategy.entropy,
            high_level=strategy.diagnostics,
            low_level=None if proposal is None else proposal.diagnostics,
        ).write(study, trial_id(trial))
        return params

    # -- the high level ----------------------------------------------------------------------
    def _strategy(
        self,
        study: Study,
        history: History,
        heads: list[StrategicParam],
        choices: np.ndarray,
        decisions: list[Decision | None],
        fixed: dict[str, Any],
        critic: GaussianProcessCritic | None,
        x: np.ndarray,
        critic_inputs: np.ndarray,
        rng: np.random.Generator,
    ) -> StrategyChoice:
        """The strategy for this trial: the high-level agent, re-fitted on the window, samples one choice per head
        (a value fixed with ``enqueue_trial`` is kept, and is off-policy data). ``x``: the window's tactical values,
        ``critic_inputs``: its critic inputs (``x``, then the strategy code)."""
        if not heads:
            return StrategyChoice()
        agent = self._high_level_agent(heads)
        stats = self._fit_high_level(study, agent, history, heads, choices, decisions)
        fixed_idx = {
            k: idx
            for k, head in enumerate(heads)
            if head.name in fixed and (idx := head.index_of(fixed[head.name])) is not None
        }
        gap_fn = None
        if critic is not None and len(history.finished) and self._critic_sees_strategy:
            n_tactical = x.shape[1]
            candidates = critic_gap_candidates(critic_inputs, n_tactical, history.utilities, rng)
            gap_fn = critic_gap_function(
                critic.predict, candidates, n_tactical, [h.code_matrix() for h in heads], self._beta
            )
        pending = choice_matrix(history.running, heads)
        chosen, log_probs, probs, head_gaps = agent.act(rng, pending, fixed_idx, gap_fn)
        return StrategyChoice(
            heads=heads,
            chosen=chosen,
            log_prob={head.name: lp for k, (head, lp) in enumerate(zip(heads, log_probs)) if k not in fixed_idx},
            critic_gap={head.name: [round(float(g), 5) for g in gaps] for head, gaps in zip(heads, head_gaps)},
            probs={h.name: [round(float(p_), 6) for p_ in p] for h, p in zip(heads, probs)},
            entropy=float(sum(-(p * np.log(p)).sum() for p in probs)),
            diagnostics=stats.as_dict(),
        )

    def _high_level_agent(self, heads: list[StrategicParam]) -> HighLevelPolicy:
        warm: dict[str, Any] = {} if self._warm is None else {"tuned_elsewhere": self._warm.tuned_counts(heads)}
        return self._high_level_agent_class(
            [h.n_choices for h in heads],
            theta_prior=self._theta,
            floor=self._floor,
            gamma=self._gamma,
            clip=self._clip,
            **warm,
        )

    def _fit_high_level(
        self,
        study: Study,
        agent: HighLevelPolicy,
        history: History,
        heads: list[StrategicParam],
        choices: np.ndarray,
        decisions: list[Decision | None],
    ) -> PPOStats:
        """The high level's PPO fit, on the schedule of :func:`high_level_fit_range`.

        Between refit points the fitted weights are reused (cached under the numbers of the
        trials they were fitted on) and only the history encoding follows the current window.
        """
        fit_range = high_level_fit_range(len(history.all_finished), self._window)
        if fit_range is None:
            return agent.fit(
                choices,
                history.utilities,
                high_level_behaviour(history.finished, decisions, heads),
                critic_gaps(decisions, heads),
            )
        fit_trials = history.all_finished[fit_range[0] : fit_range[1]]

        def fit() -> tuple[torch.Tensor, torch.Tensor, PPOStats]:
            fitted = self._high_level_agent(heads)
            fit_decisions = self._finished_cache.values(
                study, fit_trials, ("high_level_fit", DECISION_KEY), Decision.read
            )
            stats = fitted.fit(
                choice_matrix(fit_trials, heads),
                rank_utilities(fit_trials, study.direction),
                high_level_behaviour(fit_trials, fit_decisions, heads),
                critic_gaps(fit_decisions, heads),
            )
            return fitted.bias, fitted.theta, stats

        key = ("high_level", tuple(t.number for t in fit_trials), heads_key(heads))
        agent.bias, agent.theta, stats = self._finished_cache.memo(study, key, fit)
        agent.observe(choices, history.utilities)
        return stats

    # -- the critic --------------------------------------------------------------------------
    def _critic(
        self,
        study: Study,
        history: History,
        heads: list[StrategicParam],
        tactical: dict[str, BaseDistribution],
        inputs: np.ndarray,
    ) -> GaussianProcessCritic:
        """GP over :func:`critic_input` (tactical values, code of ``heads``) of the window's finished trials
        (``inputs``); RUNNING trials enter as constant liars."""
        running = critic_input(unit_matrix(history.running, tactical), choice_matrix(history.running, heads), heads)
        params = self._kernel_params(study, history, heads, tactical)
        return build_critic(inputs, history.utilities, running, params, self._critic_window)

    def _kernel_params(
        self,
        study: Study,
        history: History,
        heads: list[StrategicParam],
        tactical: dict[str, BaseDistribution],
    ) -> KernelParams:
        """The critic's hyperparameters, re-fitted only at the refit points of the study.

        Fitted on the trials of :func:`critic_fit_range`, scored among themselves, so the fit
        is a function of the stored history alone (a fresh process fits the same) and costs
        one marginal-likelihood optimisation per block of trials; cached under the numbers of
        those trials. The posterior itself always uses every trial of the window.
        """
        done = history.all_finished
        start, stop = critic_fit_range(len(done), self._critic_refit_interval, self._critic_window)
        fit_trials = done[start:stop]

        def fit() -> KernelParams:
            fit_x = critic_input(unit_matrix(fit_trials, tactical), choice_matrix(fit_trials, heads), heads)
            return fit_kernel(fit_x, rank_utilities(fit_trials, study.direction))

        key = ("critic_kernel", tuple(t.number for t in fit_trials), tuple(tactical.items()), heads_key(heads))
        return self._finished_cache.memo(study, key, fit)

    # -- the low level -----------------------------------------------------------------------
    def _tactical(
        self,
        history: History,
        decisions: list[Decision | None],
        heads: list[StrategicParam],
        choices: np.ndarray,
        chosen: list[int],
        tactical: dict[str, BaseDistribution],
        x: np.ndarray,
        critic: GaussianProcessCritic,
        rng: np.random.Generator,
    ) -> TacticalProposal:
        """The tactical values for the strategy ``chosen`` of ``heads``."""
        names = list(tactical)
        finished = history.finished
        utilities = history.utilities
        code = strategy_code(chosen, heads)
        similarity = _strategy_similarity(critic, choices, heads, code)
        mean, std = strategy_start(x, utilities, similarity)
        if self._warm is not None:
            mean, std = self._warm_started(mean, std, float(similarity.sum()), tactical, heads, code, critic)
        score = optimistic_score(critic.predict, code, self._beta)
        agent = self._low_level_agent_class(mean, std, clip=self._clip)
        idx = np.flatnonzero(same_strategy(choices, chosen))[-MAX_REAL_BATCH:]
        behaviour = low_level_behaviour([finished[i] for i in idx], [decisions[i] for i in idx], names)
        stats = agent.improve(score, rng, x[idx], utilities[idx], behaviour)
        action = agent.act(rng, score)
        values = {n: from_unit(tactical[n], u) for n, u in zip(names, action)}  # type: ignore[arg-type]
        taken = np.array([to_unit(tactical[n], values[n]) for n in names])  # type: ignore[arg-type]
        log_prob = agent.log_prob(taken)
        return TacticalProposal(
            values=values,
            log_prob={n: float(lp) for n, lp in zip(names, log_prob)},
            mean={n: round(float(m), 6) for n, m in zip(names, agent.mean)},
            std={n: round(float(sd), 6) for n, sd in zip(names, agent.std)},
            diagnostics={**stats.as_dict(), "mean_std": float(agent.std.mean())},
        )

    def _warm_started(
        self,
        mean: np.ndarray,
        std: np.ndarray,
        n_own: float,
        tactical: dict[str, BaseDistribution],
        heads: list[StrategicParam],
        code: np.ndarray,
        critic: GaussianProcessCritic,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The start blended with the earlier study's elite of the strategy (``warm_start.blend_start``).

        ``n_own``: the new study's trials similar to the strategy (the critic's kernel on the strategy code, as for
        the new study's own elite); the earlier trials are weighted by the same similarity.
        """
        assert self._warm is not None
        x_old, c_old, u_old = self._warm.elite(tactical, heads)
        similarity = _strategy_similarity(critic, c_old, heads, code)
        return blend_start((mean, std), elite_initialisation(x_old, u_old, similarity), n_own)

    # -- finished trials as arrays, each row computed once -----------------------------------
    def _finished_choices(self, study: Study, finished: list[FrozenTrial], heads: list[StrategicParam]) -> np.ndarray:
        rows = self._finished_cache.values(
            study, finished, ("choices", heads_key(heads)), lambda t: choice_matrix([t], heads)[0]
        )
        return np.array(rows, dtype=int).reshape(len(finished), len(heads))

    def _finished_units(
        self, study: Study, finished: list[FrozenTrial], tactical: dict[str, BaseDistribution]
    ) -> np.ndarray:
        names = list(tactical)
        rows = self._finished_cache.values(
            study, finished, ("unit", tuple(tactical.items())), lambda t: unit_row(t, tactical, names)
        )
        return np.array(rows, dtype=float).reshape(len(finished), len(names))
