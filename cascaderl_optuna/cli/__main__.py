"""``python -m cascaderl_optuna.cli``: the same as the ``cascaderl-optuna`` command."""

from cascaderl_optuna.cli.app import main


if __name__ == "__main__":
    raise SystemExit(main())
