"""The [0, 1] mapping and the strategic/tactical split, including property tests."""

import math

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.coordinates import from_unit
from cascaderl_optuna._cascade.coordinates import split_search_space
from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.coordinates import to_unit


@st.composite
def numeric_distributions(draw):
    kind = draw(st.sampled_from(["float", "log_float", "step_float", "int", "log_int", "step_int"]))
    if kind == "float":
        low = draw(st.floats(-1e6, 1e6))
        width = draw(st.floats(0.0, 1e6))
        return FloatDistribution(low, low + width)
    if kind == "log_float":
        low = draw(st.floats(1e-10, 1e3))
        return FloatDistribution(low, low * draw(st.floats(1.0, 1e8)), log=True)
    if kind == "step_float":
        step = draw(st.sampled_from([0.1, 0.25, 0.5, 1.0, 2.5]))
        low = draw(st.integers(-100, 100)) * step
        return FloatDistribution(low, low + draw(st.integers(0, 50)) * step, step=step)
    if kind == "int":
        low = draw(st.integers(-1000, 1000))
        return IntDistribution(low, low + draw(st.integers(0, 1000)))
    if kind == "log_int":
        low = draw(st.integers(1, 1000))
        return IntDistribution(low, low + draw(st.integers(0, 10000)), log=True)
    step = draw(st.integers(1, 7))
    low = draw(st.integers(-100, 100))
    return IntDistribution(low, low + draw(st.integers(0, 30)) * step, step=step)


def _on_grid(dist, value) -> bool:
    step = dist.step
    if step is None or (isinstance(dist, IntDistribution) and dist.log):
        return True
    k = (value - dist.low) / step
    return math.isclose(k, round(k), abs_tol=1e-6)


@settings(max_examples=300, deadline=None)
@given(numeric_distributions(), st.floats(-0.5, 1.5))
def test_from_unit_is_inside_the_distribution_and_on_its_grid(dist, u):
    value = from_unit(dist, u)
    assert dist.low <= value <= dist.high
    assert isinstance(value, int if isinstance(dist, IntDistribution) else float)
    assert _on_grid(dist, value)
    assert dist._contains(dist.to_internal_repr(value))


@settings(max_examples=200, deadline=None)
@given(numeric_distributions(), st.floats(0.0, 1.0))
def test_to_unit_round_trips_through_from_unit(dist, u):
    value = from_unit(dist, u)
    assert from_unit(dist, to_unit(dist, value)) == pytest.approx(value, rel=1e-9, abs=1e-9)


def test_log_scale_spends_equal_unit_length_per_decade():
    dist = FloatDistribution(1e-6, 1.0, log=True)
    assert from_unit(dist, 0.5) == pytest.approx(1e-3)
    assert to_unit(dist, 1e-4) == pytest.approx(2 / 6)


def test_int_grid_points_own_equal_shares_of_the_unit_interval():
    dist = IntDistribution(0, 3)
    counts = [0, 0, 0, 0]
    for i in range(4000):
        counts[from_unit(dist, (i + 0.5) / 4000)] += 1
    assert counts == [1000, 1000, 1000, 1000]


def test_split_routes_categoricals_and_named_ints_to_the_high_level():
    space = {
        "optimizer": CategoricalDistribution(["adamw", "sgd"]),
        "lora_rank": IntDistribution(4, 64, log=True),
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "batch": IntDistribution(8, 64),
    }
    strategic, tactical = split_search_space(space, ["lora_rank"])
    assert [h.name for h in strategic] == ["optimizer", "lora_rank"]
    assert strategic[1].choices == (4, 8, 16, 32, 64)
    assert list(tactical) == ["lr", "batch"]


def test_continuous_parameter_named_strategic_is_a_clear_error():
    with pytest.raises(ValueError, match="give it a `step`"):
        split_search_space({"lr": FloatDistribution(0.0, 1.0)}, ["lr"])


def test_unsupported_distribution_is_a_clear_error():
    class Odd(BaseDistribution):
        def to_external_repr(self, v):
            return v

        def to_internal_repr(self, v):
            return v

        def single(self):
            return False

        def _contains(self, v):
            return True

    with pytest.raises(ValueError, match="unsupported distribution Odd"):
        split_search_space({"x": Odd()}, [])


def test_mixed_type_categorical_choices_map_to_indices():
    head = StrategicParam("c", CategoricalDistribution([None, True, 3, "x"]))
    assert [head.index_of(v) for v in (None, True, 3, "x")] == [0, 1, 2, 3]
    assert head.index_of("missing") is None


@st.composite
def search_spaces(draw):
    n = draw(st.integers(1, 5))
    space = {}
    for i in range(n):
        if draw(st.booleans()):
            choices = draw(
                st.lists(
                    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text("abc", max_size=3)),
                    min_size=1,
                    max_size=4,
                    unique_by=lambda v: (type(v).__name__, v),
                )
            )
            space[f"p{i}"] = CategoricalDistribution(choices)
        else:
            space[f"p{i}"] = draw(numeric_distributions())
    return space


@settings(max_examples=25, deadline=None)
@given(search_spaces(), st.integers(0, 2**31 - 1))
def test_every_suggestion_lies_in_its_distribution(space, seed):
    """Property: on random spaces, whatever the agents do, suggestions stay in their space."""
    study = optuna.create_study(sampler=CascadeSampler(seed=seed, n_startup_trials=2))
    for i in range(7):
        trial = study.ask(space)
        for name, dist in space.items():
            value = trial.params[name]
            assert dist._contains(dist.to_internal_repr(value)), (name, dist, value)
        study.tell(trial, float(i % 3))
