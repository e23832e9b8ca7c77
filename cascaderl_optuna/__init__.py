"""cascaderl-optuna: a hierarchical PPO sampler for Optuna.

Where to find what:

* :mod:`cascaderl_optuna.sampler` -- ``CascadeSampler``, the Optuna contract (thin).
* :mod:`cascaderl_optuna._history` -- reading trials from storage, rank rewards, returns.
* :mod:`cascaderl_optuna._space` -- strategic/tactical split and the [0, 1] mapping.
* :mod:`cascaderl_optuna._encoding` -- the state encoding the high-level agent sees.
* :mod:`cascaderl_optuna._high_level` -- the high-level agent (factorised categorical policy).
* :mod:`cascaderl_optuna._low_level` -- the low-level agents (Gaussian policy per strategy).
* :mod:`cascaderl_optuna._critic` -- the Gaussian-process critic of the low level.
* :mod:`cascaderl_optuna._ppo` -- the PPO update both levels use.
* :mod:`cascaderl_optuna._attrs` -- what is stored with each trial (JSON system attrs).
* :mod:`cascaderl_optuna.visualization` -- the cascade tree and the strategy history (plotly).
* :mod:`cascaderl_optuna.dashboard` -- those figures in optuna-dashboard (optional extra).
* :mod:`cascaderl_optuna.space` -- YAML search spaces with strategic/tactical roles and conditions.
* :mod:`cascaderl_optuna.loggers` -- TensorBoard and W&B study callbacks (optional extra).
* :mod:`cascaderl_optuna.tasks` -- the tasks the command line tunes (``digits_mlp``).
* :mod:`cascaderl_optuna.reports` -- the before/after report of a command-line run.
* :mod:`cascaderl_optuna.cli` -- the ``cascaderl-optuna`` command.
"""

from cascaderl_optuna.dashboard import DashboardCallback
from cascaderl_optuna.dashboard import publish_to_dashboard
from cascaderl_optuna.loggers import TensorBoardCallback
from cascaderl_optuna.loggers import WandbCallback
from cascaderl_optuna.sampler import CascadeSampler
from cascaderl_optuna.space import SearchSpace
from cascaderl_optuna.visualization import plot_cascade_tree
from cascaderl_optuna.visualization import plot_strategy_history


__version__ = "0.1.0"
__all__ = [
    "CascadeSampler",
    "DashboardCallback",
    "plot_cascade_tree",
    "plot_strategy_history",
    "publish_to_dashboard",
    "SearchSpace",
    "TensorBoardCallback",
    "WandbCallback",
    "__version__",
]
