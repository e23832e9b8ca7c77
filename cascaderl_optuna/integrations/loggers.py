"""TensorBoard and Weights & Biases callbacks: what the cascade decided and learned, per trial.

Both are Optuna study callbacks (``study.optimize(..., callbacks=[cb])``), called with each trial
as it finishes. They read everything from the trial itself (its value, parameters and the JSON
records the sampler stored with it, see :mod:`cascaderl_optuna._cascade.records`), so they work with any
number of workers and with any sampler (trials without a cascade record simply carry fewer
numbers). The step of every point is the trial number.

Tags, in CleanRL's grouping (the same in TensorBoard and W&B):

* ``charts/value`` (``charts/value_<i>`` for each objective of a multi-objective study),
  ``charts/best_value`` (best so far, single objective), ``charts/entropy`` (of the high-level
  policy, summed over heads), ``charts/strategy_probability`` (the policy's probability of the
  whole chosen strategy, the product over heads), ``charts/strategy/<head>`` (the chosen index),
  ``charts/probs/<head>/<choice>`` (the policy's probability of each choice),
  ``charts/pruned``/``charts/failed`` (1 for such trials);
* ``params/<name>`` for every numeric parameter of the trial;
* ``losses/high_level/<stat>`` and ``losses/low_level/<stat>``: the PPO diagnostics of each agent
  (``pg_loss``, ``v_loss``, ``entropy``, ``approx_kl``, ``clipfrac``, ``explained_variance``,
  ``n_samples``; the low level adds ``mean_std``);
* text ``strategy``: the chosen strategy spelled out (``optimizer=sgd, scheduler=cosine``).

TensorBoard and W&B are optional (``pip install cascaderl-optuna[logging]``) and imported only
when a callback is created.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any

from optuna.distributions import CategoricalDistribution
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.records import Decision
from cascaderl_optuna._cascade.records import PolicyDiagnostics


def _finite_float(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _choice_label(value: Any) -> str:
    return str(value).replace("/", "_") if value is not None else "null"


def _heads(trial: FrozenTrial, decision: Decision | None, policy: PolicyDiagnostics | None) -> list[StrategicParam]:
    """The trial's strategic heads: the sampler's own (from its records), else its categoricals."""
    names: list[str] = []
    for recorded in (decision.strategy if decision else None, policy.probs if policy else None):
        if recorded:
            names.extend(n for n in recorded if n not in names)
    if not names:
        names = [n for n, d in trial.distributions.items() if isinstance(d, CategoricalDistribution)]
    heads = []
    for name in names:
        dist = trial.distributions.get(name)
        if dist is None:
            continue
        try:
            heads.append(StrategicParam(name, dist))
        except ValueError:
            continue
    return heads


def trial_metrics(study: Study, trial: FrozenTrial) -> tuple[dict[str, float], dict[str, str]]:
    """``(scalars, texts)`` the loggers write for ``trial``: ``{tag: value}`` and ``{tag: text}``."""
    scalars: dict[str, float] = {}
    texts: dict[str, str] = {}
    if trial.state == TrialState.COMPLETE and trial.values is not None:
        if len(trial.values) == 1:
            v = _finite_float(trial.values[0])
            if v is not None:
                scalars["charts/value"] = v
        else:
            for i, value in enumerate(trial.values):
                v = _finite_float(value)
                if v is not None:
                    scalars[f"charts/value_{i}"] = v
    if len(study.directions) == 1:
        best = _best_value_up_to(study, trial.number)
        if best is not None:
            scalars["charts/best_value"] = best
    scalars["charts/pruned"] = float(trial.state == TrialState.PRUNED)
    scalars["charts/failed"] = float(trial.state == TrialState.FAIL)

    decision = Decision.read(trial)
    policy = PolicyDiagnostics.read(trial)
    heads = _heads(trial, decision, policy)
    probs = (policy.probs if policy else None) or {}
    joint: float | None = 1.0 if probs else None
    parts = []
    for head in heads:
        if head.name not in trial.params:
            continue
        index = head.index_of(trial.params[head.name])
        if index is None:
            continue
        scalars[f"charts/strategy/{head.name}"] = float(index)
        parts.append(f"{head.name}={trial.params[head.name]}")
        p = probs.get(head.name)
        if isinstance(p, list) and len(p) == head.n_choices:
            for choice, prob in zip(head.choices, p):
                v = _finite_float(prob)
                if v is not None:
                    scalars[f"charts/probs/{head.name}/{_choice_label(choice)}"] = v
            if joint is not None and _finite_float(p[index]) is not None:
                joint *= float(p[index])
    if parts:
        texts["strategy"] = ", ".join(parts)
    if joint is not None and probs:
        scalars["charts/strategy_probability"] = joint
    if policy is not None:
        entropy = _finite_float(policy.entropy)
        if entropy is not None:
            scalars["charts/entropy"] = entropy
        for level, stats in (("high_level", policy.high_level), ("low_level", policy.low_level)):
            if stats is not None:
                for k, value in stats.items():
                    v = _finite_float(value)
                    if v is not None:
                        scalars[f"losses/{level}/{k}"] = v
    for name, value in trial.params.items():
        if not isinstance(trial.distributions.get(name), CategoricalDistribution):
            v = _finite_float(value)
            if v is not None:
                scalars[f"params/{name}"] = v
    return scalars, texts


def _best_value_up_to(study: Study, number: int) -> float | None:
    """Best complete value among trials numbered ``<= number`` (what was known at that trial)."""
    values = [
        t.values[0]
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.number <= number and t.values is not None and _finite_float(t.values[0]) is not None
    ]
    if not values:
        return None
    from optuna.study import StudyDirection

    return float(max(values) if study.direction == StudyDirection.MAXIMIZE else min(values))


class TensorBoardCallback:
    """Write each finished trial's value, strategy, policy and PPO diagnostics to TensorBoard.

    Example:

        .. code-block:: python

            from cascaderl_optuna import CascadeSampler
            from cascaderl_optuna.integrations.loggers import TensorBoardCallback

            tb = TensorBoardCallback("runs/cascade")
            study = optuna.create_study(sampler=CascadeSampler(seed=0))
            study.optimize(objective, n_trials=50, callbacks=[tb])
            tb.close()
            # tensorboard --logdir runs

    Args:
        log_dir: Directory of the event files (TensorBoard's ``--logdir`` or a folder inside it).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError("TensorBoardCallback needs tensorboard: pip install cascaderl-optuna[logging]") from exc
        self.log_dir = str(log_dir)
        self._writer = SummaryWriter(log_dir=self.log_dir)
        self._lock = threading.Lock()

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        scalars, texts = trial_metrics(study, trial)
        with self._lock:
            for tag, value in scalars.items():
                self._writer.add_scalar(tag, value, global_step=trial.number)
            for tag, text in texts.items():
                self._writer.add_text(tag, text, global_step=trial.number)
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()

    def __enter__(self) -> TensorBoardCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WandbCallback:
    """Log each finished trial's value, strategy, policy and PPO diagnostics to Weights & Biases.

    The run is started when the callback is created (``wandb.init(project=project,
    **wandb_init_kwargs)``; ``WANDB_MODE=offline`` works with no network) and ended by
    :meth:`finish`. Every metric is plotted against the ``trial`` metric (the trial number), so
    trials that finish out of order (several workers) still land at their own step. The strategy
    text goes into a ``strategies`` table logged at :meth:`finish`; the best trial's value and
    parameters go into the run summary.

    Args:
        project: The W&B project.
        wandb_init_kwargs: Anything else for ``wandb.init`` (``entity``, ``name``, ``dir``,
            ``mode``, ``config``, ``tags``...).
    """

    def __init__(self, project: str | None = None, **wandb_init_kwargs: Any) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise ImportError("WandbCallback needs wandb: pip install cascaderl-optuna[logging]") from exc
        self._wandb = wandb
        self.run = wandb.init(project=project, **wandb_init_kwargs)
        self.run.define_metric("trial")
        self.run.define_metric("*", step_metric="trial")
        self._strategies: list[list[Any]] = []
        self._lock = threading.Lock()

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        scalars, texts = trial_metrics(study, trial)
        with self._lock:
            self.run.log({"trial": trial.number, **scalars})
            if "strategy" in texts:
                self._strategies.append([trial.number, texts["strategy"], trial.state.name])
            if len(study.directions) == 1 and "charts/best_value" in scalars:
                try:
                    best = study.best_trial
                except ValueError:
                    return
                self.run.summary["best_value"] = best.value
                self.run.summary["best_trial"] = best.number
                self.run.summary["best_params"] = {
                    k: (v if isinstance(v, (bool, int, float, str)) or v is None else str(v))
                    for k, v in best.params.items()
                }

    def finish(self) -> None:
        """Log the strategy table and end the run (writes everything to disk in offline mode)."""
        with self._lock:
            if self._strategies:
                table = self._wandb.Table(columns=["trial", "strategy", "state"], data=self._strategies)
                self.run.log({"strategies": table})
            self.run.finish()

    close = finish

    def __enter__(self) -> WandbCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
