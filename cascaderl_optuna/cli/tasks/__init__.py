"""Training tasks the command line can tune, by name: ``get_task("digits_mlp")``.

A task bundles what ``cascaderl-optuna optimize --task NAME`` needs to run a study end to end:

* a YAML search space shipped with the package (:meth:`Task.load_space`), which a user may
  replace with ``--space FILE`` as long as the task understands every parameter in it
  (:meth:`Task.check_space`);
* a default configuration (:attr:`Task.default_params`): the "before" of the before/after report,
  and the value of any parameter a custom space leaves out;
* :meth:`Task.objective`: one trial, trained for real, reporting an intermediate value per epoch
  (so pruners work) and raising :class:`TrainingDiverged` when the run goes NaN or blows up (the
  command line catches it: the trial is stored as FAIL with the reason, the study goes on);
* :meth:`Task.evaluate`: one configuration trained the same way and measured on a held-out test
  split that the objective never sees, with its training curves.

The built-in tasks measure the memory of each run's first training step
(:class:`~cascaderl_optuna.cli.tasks._training.MemoryMeter`). A run that runs out of memory (torch's
``OutOfMemoryError``, the CPU allocator's failure, or a step above :attr:`Task.memory_budget_gib`)
is not a FAIL: the trial completes as *infeasible*, with the constraint ``memory_over_budget_gib``
above 0 (``trial.set_constraint``), its reason in the user attribute ``infeasible_reason`` and the
loss of a model that predicts nothing (the uniform predictor's cross-entropy) as its value; a run
that fits carries the constraint too (its peak minus the budget) where a limit is known, and its
peak in ``memory_gib``. ``study.best_trial`` skips infeasible trials, and the cascade, TPESampler
and GPSampler learn where the memory runs out (:func:`~cascaderl_optuna.cli.tasks._training.fit_or_infeasible`).

New tasks subclass :class:`Task` and add a line to ``_BUILTIN``, or call :func:`register_task`
from their own package. ``cascaderl-optuna tasks`` lists them with :func:`describe_tasks`: the
one-line ``description`` of each task class, and the pip extra it needs when that is not installed.
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
import importlib
from importlib import resources
import importlib.util
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution

from cascaderl_optuna.search_space import SearchSpace
from cascaderl_optuna.search_space import SearchSpaceError


class TrainingDiverged(RuntimeError):
    """A trial's training went NaN or blew up: the trial fails with this reason, the study goes on."""


class UnknownTaskError(ValueError):
    """No task is registered under the name asked for."""


@dataclass
class Evaluation:
    """One configuration measured on the held-out test split.

    ``metrics`` holds the test numbers (the task's ``test_metric`` among them), ``curves`` the
    per-epoch training curves (``{"train_loss": [...], "val_loss": [...]}``).
    """

    metrics: dict[str, float]
    curves: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ParamRule:
    """What a task accepts for one parameter: allowed categorical values, or a numeric range."""

    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    def problem(self, dist: BaseDistribution) -> str | None:
        """Why ``dist`` does not fit this rule, or ``None`` when it does."""
        if self.choices is not None:
            if not isinstance(dist, CategoricalDistribution):
                return f"it must be categorical with choices among {list(self.choices)}"
            unknown = [c for c in dist.choices if c not in self.choices]
            return f"the task does not know the choices {unknown}; it knows {list(self.choices)}" if unknown else None
        if isinstance(dist, CategoricalDistribution):
            values = list(dist.choices)
        else:
            values = [dist.low, dist.high]  # type: ignore[attr-defined]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return f"it takes numbers, got {v!r}"
            if self.integer and not float(v).is_integer():
                return f"it takes integers, got {v!r}"
            if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
                return f"{v!r} is below what the task accepts ({self.range_text()})"
            if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
                return f"{v!r} is above what the task accepts ({self.range_text()})"
        return None

    def range_text(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{self.low}, {self.high}{right}"


class Task(ABC):
    """A tunable training task (see the module docstring for the contract)."""

    name: str = ""
    description: str = ""
    """One line for ``cascaderl-optuna tasks``: what is trained, on what."""
    extra: str | None = None
    """The pip extra the task needs beyond ``cli`` (``"llm"``), or ``None``."""
    extra_modules: tuple[str, ...] = ()
    """Modules that extra installs; ``cascaderl-optuna tasks`` says when one is missing."""
    direction: str = "minimize"
    objective_metric: str = "validation loss"
    test_metric: str = "test_loss"
    space_resource: str = ""
    """File name of the default YAML space inside ``cascaderl_optuna/tasks/``."""
    default_params: dict[str, Any] = {}
    param_rules: dict[str, ParamRule] = {}
    memory_budget_gib: float | None = None
    """GiB a training step may use (``--memory-budget``); a configuration that needs more is infeasible."""

    def load_space(self, path: str | None = None) -> SearchSpace:
        """The task's own space, or the file at ``path`` after checking the task understands it."""
        if path is None:
            text = resources.files("cascaderl_optuna.cli.tasks").joinpath(self.space_resource).read_text("utf-8")
            space = SearchSpace.from_yaml(text)
            space.source = f"{self.name}'s built-in space ({self.space_resource})"
        else:
            space = SearchSpace.from_yaml(path)
        self.check_space(space)
        return space

    def check_space(self, space: SearchSpace) -> None:
        """Reject a space with parameters the task would not use or values it cannot run."""
        for p in space.parameters:
            rule = self.param_rules.get(p.name)
            if rule is None:
                raise SearchSpaceError(
                    f"{space.source}: parameter {p.name!r} is not used by task {self.name!r}; "
                    f"its parameters are {', '.join(self.param_rules)}. Remove it or fix its name."
                )
            problem = rule.problem(p.distribution)
            if problem:
                raise SearchSpaceError(
                    f"{space.source}: parameter {p.name!r} does not fit task {self.name!r}: {problem}."
                )

    def full_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The default configuration, overridden by ``params``."""
        out = dict(self.default_params)
        out.update(params)
        return out

    @abstractmethod
    def objective(self, trial: optuna.Trial, params: Mapping[str, Any]) -> float:
        """Train with ``params`` (merged over the defaults), report per epoch, return the value."""

    @abstractmethod
    def evaluate(self, params: Mapping[str, Any], seed: int = 0) -> Evaluation:
        """Train with ``params`` (merged over the defaults) and measure on the held-out test split."""


_BUILTIN: dict[str, str] = {
    "digits_mlp": "cascaderl_optuna.cli.tasks.digits_mlp:DigitsMLPTask",
    "text_classification": "cascaderl_optuna.cli.tasks.text_classification:TextClassificationTask",
}
_REGISTRY: dict[str, Callable[..., Task]] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_task(name: str, factory: Callable[..., Task], description: str | None = None) -> None:
    """Make ``factory(**options)`` available as ``get_task(name, **options)`` and ``--task name``.

    ``description`` is the line ``cascaderl-optuna tasks`` shows; by default the factory's own
    ``description`` attribute (a :class:`Task` subclass has one), read without building a task.
    """
    _REGISTRY[name] = factory
    if description is not None:
        _DESCRIPTIONS[name] = description
    else:
        _DESCRIPTIONS.pop(name, None)


def available_tasks() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTRY))


@dataclass(frozen=True)
class TaskInfo:
    """What ``cascaderl-optuna tasks`` shows of one task, read from its class (nothing is built)."""

    name: str
    description: str
    extra: str | None = None
    missing: tuple[str, ...] = ()
    """Modules of ``extra`` that are not installed (the task cannot run until they are)."""


def _task_class(name: str) -> Any:
    factory = _REGISTRY.get(name)
    if factory is None:
        module_name, attr = _BUILTIN[name].split(":")
        factory = getattr(importlib.import_module(module_name), attr)
    return factory


def describe_tasks() -> list[TaskInfo]:
    """Every available task with its description and the extra it needs, by name.

    Importing a built-in task's module needs only the core dependencies (a task imports its
    extra's packages when it is built), so the list shows every task, runnable or not, and says
    which extra to install for the ones that are not.
    """
    out = []
    for name in available_tasks():
        cls = _task_class(name)
        description = _DESCRIPTIONS.get(name) or getattr(cls, "description", "") or ""
        extra = getattr(cls, "extra", None)
        modules = tuple(getattr(cls, "extra_modules", ()))
        missing = tuple(m for m in modules if importlib.util.find_spec(m) is None)
        out.append(TaskInfo(name, description, extra, missing))
    return out


def get_task(name: str, **options: Any) -> Task:
    """The task registered under ``name``, built with ``options`` (e.g. ``data="my.csv"``).

    Raises:
        UnknownTaskError: No such task; the message lists the available ones.
    """
    if name not in _REGISTRY and name not in _BUILTIN:
        raise UnknownTaskError(
            f"unknown task {name!r}; available tasks: {', '.join(available_tasks())} "
            "(`cascaderl-optuna tasks` describes them)."
        )
    return _task_class(name)(**options)


__all__ = [
    "Evaluation",
    "ParamRule",
    "Task",
    "TaskInfo",
    "TrainingDiverged",
    "UnknownTaskError",
    "available_tasks",
    "describe_tasks",
    "get_task",
    "register_task",
]
