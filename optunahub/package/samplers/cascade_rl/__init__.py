"""OptunaHub entry point for ``CascadeSampler`` (``optunahub.load_module("samplers/cascade_rl")``).

The sampler is not copied here: the registry forbids shipping binaries (the pre-trained weights
are package data) and a second copy would drift from the tested one. This module re-exports the
class from the installed ``cascaderl-optuna`` distribution, which ``requirements.txt`` names.
"""

from __future__ import annotations


try:
    from cascaderl_optuna import CascadeSampler
except ModuleNotFoundError as err:
    raise ModuleNotFoundError(
        "CascadeSampler needs the cascaderl-optuna package: run "
        "`pip install -r https://hub.optuna.org/samplers/cascade_rl/requirements.txt` "
        "(or `pip install cascaderl-optuna`)."
    ) from err


__all__ = ["CascadeSampler"]
