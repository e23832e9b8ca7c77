"""cascaderl-optuna: a hierarchical PPO sampler for Optuna.

Where to find what:

* :mod:`cascaderl_optuna.sampler` -- ``CascadeSampler``: the Optuna contract and the per-trial
  orchestration.
* :mod:`cascaderl_optuna._cascade` -- the algorithm core (private): agents, critic, PPO, records.
* :mod:`cascaderl_optuna.search_space` -- YAML search spaces with strategic/tactical roles.
* :mod:`cascaderl_optuna.integrations` -- plots, optuna-dashboard, TensorBoard and W&B.
* :mod:`cascaderl_optuna.cli` -- the ``cascaderl-optuna`` command, its reports and tasks.
"""

from cascaderl_optuna._cascade.orphans import fail_orphaned_trials
from cascaderl_optuna.integrations.dashboard import DashboardCallback
from cascaderl_optuna.integrations.dashboard import publish_to_dashboard
from cascaderl_optuna.integrations.loggers import TensorBoardCallback
from cascaderl_optuna.integrations.loggers import WandbCallback
from cascaderl_optuna.integrations.visualization import plot_cascade_tree
from cascaderl_optuna.integrations.visualization import plot_strategy_history
from cascaderl_optuna.sampler import CascadeSampler
from cascaderl_optuna.search_space import SearchSpace


__version__ = "0.1.0"
__all__ = [
    "CascadeSampler",
    "DashboardCallback",
    "fail_orphaned_trials",
    "plot_cascade_tree",
    "plot_strategy_history",
    "publish_to_dashboard",
    "SearchSpace",
    "TensorBoardCallback",
    "WandbCallback",
    "__version__",
]
