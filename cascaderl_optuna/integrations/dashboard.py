"""Show the cascade tree and the strategy history in optuna-dashboard.

optuna-dashboard (0.21) draws, on a study's page, every plotly figure saved into the study with
``optuna_dashboard.save_plotly_graph_object``: the figure's JSON goes into the study's system
attrs (chunked), so it travels with the storage like everything else, and a dashboard started on
that storage, on any machine, shows it. Saving again under the same id replaces the figure.

:func:`publish_to_dashboard` saves both figures once; :class:`DashboardCallback` does it every few
trials during ``study.optimize``. Then::

    optuna-dashboard sqlite:///study.db

optuna-dashboard is an optional extra (``pip install cascaderl-optuna[dashboard]``), imported only
when a figure is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
import threading
from typing import Any

from optuna.logging import get_logger
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from cascaderl_optuna._cascade.optuna_compat import is_multi_objective
from cascaderl_optuna._cascade.optuna_compat import study_trials


_logger = get_logger(__name__)

CASCADE_TREE_ID = "cascaderl-cascade-tree"
"""Graph-object id of the cascade tree in the study (re-publishing replaces it)."""
STRATEGY_HISTORY_ID = "cascaderl-strategy-history"
"""Graph-object id of the strategy history in the study."""


def _save_plotly_graph_object() -> Any:
    try:
        from optuna_dashboard import save_plotly_graph_object
    except ImportError as e:
        raise ImportError(
            "Publishing to optuna-dashboard needs the optuna-dashboard package: "
            "pip install 'cascaderl-optuna[dashboard]'"
        ) from e
    return save_plotly_graph_object


def publish_to_dashboard(study: Study, *, strategic_params: Sequence[str] | None = None) -> list[str]:
    """Save the cascade tree and the strategy history into ``study`` for optuna-dashboard.

    The figures are :func:`~cascaderl_optuna.integrations.visualization.plot_cascade_tree` and
    :func:`~cascaderl_optuna.integrations.visualization.plot_strategy_history` of the study as stored now;
    they appear on the study's page of optuna-dashboard (``optuna-dashboard <storage URL>``),
    replacing the ones published before. Nothing else in the study is touched (its note stays the
    user's).

    Example:

        .. code-block:: python

            from cascaderl_optuna import publish_to_dashboard

            study.optimize(objective, n_trials=100)
            publish_to_dashboard(study)

    Args:
        study: A single-objective study with at least one strategic parameter.
        strategic_params: As in :func:`~cascaderl_optuna.integrations.visualization.plot_cascade_tree`.

    Returns:
        The graph-object ids written: ``[CASCADE_TREE_ID, STRATEGY_HISTORY_ID]``.

    Raises:
        ImportError: optuna-dashboard is not installed.
        ValueError: as :func:`~cascaderl_optuna.integrations.visualization.plot_cascade_tree` does.
    """
    from cascaderl_optuna.integrations.visualization import plot_cascade_tree
    from cascaderl_optuna.integrations.visualization import plot_strategy_history

    save = _save_plotly_graph_object()
    tree = plot_cascade_tree(study, strategic_params=strategic_params)
    history = plot_strategy_history(study, strategic_params=strategic_params)
    save(study, tree, graph_object_id=CASCADE_TREE_ID)
    save(study, history, graph_object_id=STRATEGY_HISTORY_ID)
    return [CASCADE_TREE_ID, STRATEGY_HISTORY_ID]


class DashboardCallback:
    """Re-publish the cascade figures to optuna-dashboard every ``every`` finished trials.

    A study callback (``study.optimize(objective, callbacks=[DashboardCallback()])``): the figures
    on the dashboard follow the study while it runs. Each publication rewrites two figures in the
    study's system attrs, so ``every`` bounds that cost. Call :func:`publish_to_dashboard` once
    after ``optimize`` for figures that include the last trials.

    While no trial has a strategic parameter yet there is nothing to draw, and the callback waits;
    a multi-objective study is an error at the first call. The stored tree grows with the number
    of distinct strategies tried (a few hundred characters a box), not with the trials; the
    strategy history is thinned to a bounded number of points.

    Example:

        .. code-block:: python

            from cascaderl_optuna import CascadeSampler, DashboardCallback, publish_to_dashboard

            study = optuna.create_study(storage="sqlite:///study.db", sampler=CascadeSampler())
            study.optimize(objective, n_trials=200, callbacks=[DashboardCallback(every=10)])
            publish_to_dashboard(study)

    Args:
        every: Publish when at least this many trials have finished since the last publication
            by this callback.
        strategic_params: As in :func:`~cascaderl_optuna.integrations.visualization.plot_cascade_tree`.
    """

    def __init__(self, every: int = 10, *, strategic_params: Sequence[str] | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}.")
        if isinstance(strategic_params, str):
            raise ValueError(
                "strategic_params must be a sequence of parameter names, e.g. ('optimizer',), "
                f"not the string {strategic_params!r}."
            )
        _save_plotly_graph_object()  # fail at construction, not after the first trials
        self._every = every
        self._strategic_params = None if strategic_params is None else tuple(strategic_params)
        self._published_at = 0  # finished trials at the last publication
        self._lock = threading.Lock()  # optimize(n_jobs=k) calls back from k threads

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        if is_multi_objective(study):
            raise ValueError(
                "DashboardCallback draws single-objective studies only (CascadeSampler optimises "
                f"one objective); study {study.study_name!r} has {len(study.directions)} objectives."
            )
        finished = study_trials(study, (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL), use_cache=False)
        with self._lock:
            n = len(finished)
            if n - self._published_at < self._every:
                return
            from cascaderl_optuna.integrations.visualization import resolve_strategic_params

            if not resolve_strategic_params(study, self._strategic_params):
                return  # nothing to draw yet
            publish_to_dashboard(study, strategic_params=self._strategic_params)
            self._published_at = n
