"""What the cascade shows outside the sampler: plots, optuna-dashboard, TensorBoard and W&B.

* :mod:`.visualization` -- the cascade tree and the strategy history (plotly).
* :mod:`.dashboard` -- those figures in optuna-dashboard (extra ``dashboard``).
* :mod:`.loggers` -- TensorBoard and W&B study callbacks (extra ``logging``).

All of them read the records the sampler stored (:mod:`cascaderl_optuna._cascade.records`), so
they work from any process, on any storage, with or without the sampler object at hand.
"""
