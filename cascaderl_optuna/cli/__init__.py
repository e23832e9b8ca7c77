"""The ``cascaderl-optuna`` command line: tune a task with a live table, report before and after.

* :mod:`cascaderl_optuna.cli.app` -- the command (``tune``, ``tasks``, ``dashboard``, ...).
* :mod:`cascaderl_optuna.cli.reports` -- the before/after report of a run.
* :mod:`cascaderl_optuna.cli.tasks` -- the tasks it tunes (``digits_mlp``, ``text_classification``).
"""
