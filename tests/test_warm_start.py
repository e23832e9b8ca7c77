"""Warm starts (cascaderl_optuna/_cascade/warm_start.py): an earlier study as prior knowledge, not as values."""

from __future__ import annotations

import math
import pickle

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
import pytest
import torch

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.high_level import tuning_share
from cascaderl_optuna._cascade.high_level import TUNING_TRIALS
from cascaderl_optuna._cascade.records import PolicyDiagnostics
from cascaderl_optuna._cascade.warm_start import blend_start
from cascaderl_optuna._cascade.warm_start import prior_weight
from cascaderl_optuna._cascade.warm_start import WarmStart


BEST_LOG_LR = {"adamw": -3.5, "sgd": -1.5, "adafactor": -2.5}
OFFSET = {"adamw": 0.0, "sgd": 0.3, "adafactor": 0.1}


def objective(shift: float = 0.0, offsets: dict | None = None, families=("adamw", "sgd", "adafactor")):
    offsets = offsets or OFFSET

    def f(trial: optuna.Trial) -> float:
        family = trial.suggest_categorical("optimizer", list(families))
        lr = trial.suggest_float("learning_rate", 1e-6, 1.0, log=True)
        wd = trial.suggest_float("weight_decay", 1e-5, 0.1, log=True)
        return (math.log10(lr) - BEST_LOG_LR[family] - shift) ** 2 + offsets[family] + 0.1 * (math.log10(wd) + 3) ** 2

    return f


@pytest.fixture(scope="module")
def earlier() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=CascadeSampler(seed=0))
    study.optimize(objective(), n_trials=60)
    return study


def _best_of(study: optuna.Study, family: str) -> optuna.trial.FrozenTrial:
    return min((t for t in study.trials if t.params["optimizer"] == family), key=lambda t: t.value)


def test_the_study_opens_with_the_earlier_best_configuration_of_each_family_evaluated_anew(earlier) -> None:
    later = optuna.create_study(sampler=CascadeSampler(seed=1, warm_start=earlier))
    later.optimize(objective(shift=0.3), n_trials=12)
    order = sorted(OFFSET, key=lambda f: _best_of(earlier, f).value)  # best first
    assert [t.params["optimizer"] for t in later.trials[:3]] == order
    for t in later.trials[:3]:
        assert t.params == _best_of(earlier, t.params["optimizer"]).params
        assert t.value != _best_of(earlier, t.params["optimizer"]).value  # evaluated on the new objective
    assert len({tuple(t.params.items()) for t in later.trials[3:10]}) == 7  # then the space-filling start
    # nothing of the earlier study is copied into the later one, and nothing is written to the earlier one
    assert len(later.trials) == 12 and len(earlier.trials) == 60


def test_values_the_new_space_lacks_are_drawn_by_the_sampler_and_unknown_choices_have_no_prior(earlier) -> None:
    def narrower(trial: optuna.Trial) -> float:
        family = trial.suggest_categorical("optimizer", ["adamw", "lion"])  # sgd and adafactor are gone
        lr = trial.suggest_float("learning_rate", 1e-3, 1.0, log=True)  # adamw's earlier best is below
        return (math.log10(lr) + 2.5) ** 2 + (family == "lion") * 0.1

    later = optuna.create_study(sampler=CascadeSampler(seed=2, warm_start=earlier))
    later.optimize(narrower, n_trials=15)
    first = later.trials[0]
    assert first.params["optimizer"] == "adamw" and 1e-3 <= first.params["learning_rate"] <= 1.0
    assert "weight_decay" not in first.params
    heads = [StrategicParam("optimizer", CategoricalDistribution(["adamw", "lion"]))]
    assert WarmStart.from_study(earlier, ()).tuned_counts(heads)[0, 1] == 0  # lion: untuned, as in a cold start


def test_the_earlier_trials_count_towards_the_tuning_trials_so_the_share_goes_to_what_neither_study_tuned(
    earlier,
) -> None:
    counts = np.bincount([["adamw", "sgd", "adafactor"].index(t.params["optimizer"]) for t in earlier.trials])
    heads = [StrategicParam("optimizer", CategoricalDistribution(["adamw", "sgd", "adafactor", "lion"]))]
    warm = WarmStart.from_study(earlier, ())
    assert warm.decisive_head() == "optimizer"
    tuned = warm.tuned_counts(heads)
    assert tuned[0].tolist() == [*np.minimum(counts, TUNING_TRIALS).tolist(), 0]
    # only the decisive head is credited: another head keeps its tuning share as in a cold start
    dists = {"optimizer": CategoricalDistribution(["a", "b"]), "scheduler": CategoricalDistribution(["x", "y"])}
    two_heads = [
        optuna.trial.create_trial(params={"optimizer": o, "scheduler": c}, distributions=dists, value=v)
        for o, c, v in [("a", "x", 0.0), ("a", "y", 0.1), ("b", "x", 1.0), ("b", "y", 1.1)] * 5
    ]
    warm2 = WarmStart.from_study(two_heads, ())
    assert warm2.decisive_head() == "optimizer"  # its choices' best values differ by 1.0, the schedules' by 0.1
    counts2 = warm2.tuned_counts([StrategicParam(n, d) for n, d in dists.items()])
    assert counts2.tolist() == [[10.0, 10.0], [0.0, 0.0]]
    valid = torch.ones(1, 4, dtype=torch.bool)
    no_trials = torch.ones(1, 4)  # uncertainty 1/sqrt(1 + 0): no trial of any choice in the new study
    m_cold, q_cold = tuning_share(no_trials, valid)
    m_warm, q_warm = tuning_share(no_trials, valid, torch.tensor(tuned))
    assert float(m_cold) == pytest.approx(0.5) and q_cold[0].tolist() == pytest.approx([0.25] * 4)
    tuned_earlier = (counts >= TUNING_TRIALS).sum()
    assert float(m_warm) == pytest.approx(0.5 * (4 - tuned_earlier) / 4)
    assert q_warm[0, 3] == max(q_warm[0])  # the new family gets the largest part

    later = optuna.create_study(sampler=CascadeSampler(seed=3, warm_start=earlier))
    later.optimize(objective(shift=0.2, families=("adamw", "sgd", "adafactor")), n_trials=12)
    cold = optuna.create_study(sampler=CascadeSampler(seed=3))
    cold.optimize(objective(shift=0.2, families=("adamw", "sgd", "adafactor")), n_trials=12)
    p_warm = PolicyDiagnostics.read(later.trials[-1]).probs["optimizer"]
    p_cold = PolicyDiagnostics.read(cold.trials[-1]).probs["optimizer"]
    assert max(p_warm) > max(p_cold)  # the comparison between tuned families starts at once


def test_each_strategy_starts_from_the_earlier_elite_with_a_weight_that_fades(earlier) -> None:
    assert prior_weight(0) == 1.0 and prior_weight(8) == 0.5 and prior_weight(80) < 0.1
    own, old = (np.array([0.2, 0.8]), np.array([0.1, 0.1])), (np.array([0.6, 0.4]), np.array([0.3, 0.3]))
    for n_own, mean in ((0, [0.6, 0.4]), (8, [0.4, 0.6]), (1e9, [0.2, 0.8])):
        assert blend_start(own, old, n_own)[0] == pytest.approx(mean)
    assert blend_start(own, old, 8)[1] == pytest.approx([0.2, 0.2])
    # The earlier elite in the new space: unit coordinates and choices of the new heads, utilities best first
    heads = [StrategicParam("optimizer", CategoricalDistribution(["sgd", "adamw"]))]
    lr = FloatDistribution(1e-6, 1.0, log=True)
    x, choices, utilities = WarmStart.from_study(earlier, ()).elite({"learning_rate": lr}, heads)
    best = min(earlier.trials, key=lambda t: t.value)
    assert x[0, 0] == pytest.approx((math.log10(best.params["learning_rate"]) + 6) / 6, abs=1e-9)
    expected = {"sgd": 0, "adamw": 1}.get(best.params["optimizer"], -1)  # adafactor is not a choice of the new head
    assert choices[0, 0] == expected
    assert (np.diff(utilities) <= 0).all()
    assert (choices[:, 0] == -1).sum() == sum(t.params["optimizer"] == "adafactor" for t in earlier.trials)


def test_a_warm_start_reaches_a_good_value_sooner_than_a_cold_one(earlier) -> None:
    warm, cold = [], []
    for seed in range(5):
        for out, ws in ((warm, earlier), (cold, None)):
            study = optuna.create_study(sampler=CascadeSampler(seed=seed, warm_start=ws))
            study.optimize(objective(shift=0.3), n_trials=15)
            out.append(study.best_value)
    assert np.median(warm) < np.median(cold) / 2, (warm, cold)


def test_warm_started_samplers_pickle_and_decide_alike(earlier) -> None:
    sampler = CascadeSampler(seed=5, warm_start=earlier.trials)  # the trials work as the study does (minimised)
    copy = pickle.loads(pickle.dumps(sampler))
    values = []
    for s in (sampler, copy):
        study = optuna.create_study(sampler=s)
        study.optimize(objective(), n_trials=13)
        values.append([t.params for t in study.trials])
    assert values[0] == values[1]


def test_bad_warm_starts_are_refused_with_what_to_pass(earlier) -> None:
    with pytest.raises(TypeError, match="optuna.load_study"):
        CascadeSampler(warm_start="sqlite:///old.db")  # type: ignore[arg-type]
    empty = optuna.create_study()
    with pytest.raises(ValueError, match="no finished trial"):
        CascadeSampler(warm_start=empty)
    multi = optuna.create_study(directions=["minimize", "maximize"])
    with pytest.raises(ValueError, match="objectives"):
        CascadeSampler(warm_start=multi)
    maximised = optuna.create_study(direction="maximize")
    maximised.add_trials(
        [
            optuna.trial.create_trial(
                params={"optimizer": o}, distributions={"optimizer": CategoricalDistribution(["a", "b"])}, value=v
            )
            for o, v in (("a", 1.0), ("b", 2.0), ("a", 0.5))
        ]
    )
    assert WarmStart.from_study(maximised, ()).design(5)[0] == {"optimizer": "b"}  # its own direction


@pytest.mark.parametrize("own", range(TUNING_TRIALS + 1))
def test_a_choice_with_the_tuning_trials_between_both_studies_is_tuned_and_its_head_sums_to_one(own):
    # own trials in this study plus trials elsewhere make exactly TUNING_TRIALS: the choice is tuned, whatever the
    # rounding of the count recovered from the encoder's 1 / sqrt(1 + count) (13 comes back as 12.999...)
    from cascaderl_optuna._cascade.high_level import head_policy

    uncertainty = torch.tensor([[1.0 / math.sqrt(1.0 + own), 1.0 / math.sqrt(1.0 + 40)]], dtype=torch.float64)
    valid = torch.ones(1, 2, dtype=torch.bool)
    elsewhere = torch.tensor([[float(TUNING_TRIALS - own), 0.0]], dtype=torch.float64)
    m, _ = tuning_share(uncertainty, valid, elsewhere)
    assert float(m) == 0.0
    logits = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    probs = head_policy(logits, uncertainty, valid, 0.15, 2, elsewhere)
    assert float(probs.sum()) == pytest.approx(1.0)
    assert probs[0].tolist() == pytest.approx(
        head_policy(logits, uncertainty, valid, 0.15, 2, elsewhere + 100)[0].tolist()
    )


def _quadratic(trial):
    return (trial.suggest_float("x", -1.0, 1.0) - 0.5) ** 2


def test_a_warm_start_from_a_study_of_the_other_direction_is_refused_by_name():
    earlier = optuna.create_study(direction="maximize")
    earlier.optimize(_quadratic, n_trials=5)
    study = optuna.create_study(sampler=CascadeSampler(seed=0, warm_start=earlier))
    with pytest.raises(
        ValueError, match=r"warm_start: study .* was maximised, but this study minimises.*same direction"
    ):
        study.optimize(_quadratic, n_trials=1)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]


def test_a_sampler_reused_for_a_study_of_the_other_direction_still_refuses_its_warm_start():
    earlier = optuna.create_study(direction="maximize")
    earlier.optimize(_quadratic, n_trials=5)
    sampler = CascadeSampler(seed=0, n_startup_trials=2, warm_start=earlier)
    maximised = optuna.create_study(direction="maximize", sampler=sampler)
    maximised.optimize(_quadratic, n_trials=4)  # the same direction: past the start-up, every check done
    minimised = optuna.create_study(sampler=sampler)
    with pytest.raises(ValueError, match=r"warm_start: study .* was maximised, but this study minimises"):
        minimised.optimize(_quadratic, n_trials=1)
    assert [t.state for t in minimised.trials] == [optuna.trial.TrialState.FAIL]


def test_warm_start_trials_are_read_as_minimised_and_refused_in_a_maximised_study():
    earlier = optuna.create_study()
    earlier.optimize(_quadratic, n_trials=5)
    minimised = optuna.create_study(sampler=CascadeSampler(seed=0, warm_start=earlier.trials))
    minimised.optimize(_quadratic, n_trials=2)
    maximised = optuna.create_study(direction="maximize", sampler=CascadeSampler(seed=0, warm_start=earlier.trials))
    with pytest.raises(ValueError, match=r"warm_start: the earlier trials .* are read as minimised.*optuna.Study"):
        maximised.optimize(_quadratic, n_trials=1)
