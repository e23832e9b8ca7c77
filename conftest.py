"""Shared by both test tiers: the package's tests in tests/ and the harness's in benchmarks/tests/."""

import warnings

import optuna
import pytest


optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _quiet_experimental_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
