"""The algorithm core of the cascade: private, and mostly free of Optuna.

The agents see arrays, never trials; only :mod:`.history`, :mod:`.records`, :mod:`.trial_cache`
and :mod:`.group_decomposition` read a study. ``cascaderl_optuna.sampler`` ties them together.

* :mod:`.history` -- the bounded window of trials read from storage, rank utilities, returns.
* :mod:`.records` -- what the sampler stores with each trial (typed, versioned JSON records).
* :mod:`.coordinates` -- the strategic/tactical split and the [0, 1] mapping of each distribution.
* :mod:`.group_decomposition` -- the relative search space, read incrementally.
* :mod:`.trial_cache` -- per-trial values and fits computed once per finished trial.
* :mod:`.encoding` -- the history features the high-level policy acts on.
* :mod:`.high_level` -- the high-level agent: a factorised categorical policy over strategies.
* :mod:`.low_level` -- the low-level agent: a Gaussian policy over the tactical values.
* :mod:`.critic` -- the Gaussian-process critic over (tactical values, strategy).
* :mod:`.ppo` -- the clipped PPO update both levels use.
* :mod:`.pretrained` -- the high level's pre-trained feature weights.
"""
