"""Optuna's own sampler contract suite, run against CascadeSampler.

Two configurations: the default one (space-filling start, as users get it) and one whose agents
act from the second trial, so the suite exercises the cascade itself and not only the start-up.
"""

from optuna.testing.pytest_samplers import BasicSamplerTestCase
from optuna.testing.pytest_samplers import RelativeSamplerTestCase
from optuna.testing.pytest_samplers import SingleOnlySamplerTestCase
import pytest

from cascaderl_optuna import CascadeSampler


class _CascadeFixture:
    @pytest.fixture(params=["default", "agents-from-trial-2"])
    def sampler(self, request):
        if request.param == "default":
            return lambda: CascadeSampler(seed=0)
        return lambda: CascadeSampler(seed=0, n_startup_trials=1)


class TestCascadeBasic(_CascadeFixture, BasicSamplerTestCase):
    pass


class TestCascadeRelative(_CascadeFixture, RelativeSamplerTestCase):
    pass


class TestCascadeSingleOnly(_CascadeFixture, SingleOnlySamplerTestCase):
    pass
