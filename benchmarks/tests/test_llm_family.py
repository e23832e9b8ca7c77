"""The generator of LoRA fine-tuning landscapes (benchmarks/problems/llm_family.py): what each instance promises."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from scipy.optimize import brentq
from scipy.optimize import minimize_scalar

from benchmarks.problems import HELDOUT_LLM_FAMILY
from benchmarks.problems import HELDOUT_PROBLEMS
from benchmarks.problems import llm_family as lf
from benchmarks.problems import make_problem
from benchmarks.problems import PUBLISHED_LLM_FAMILY
from benchmarks.suites import SUITES


ALL_SEEDS = (*PUBLISHED_LLM_FAMILY, *HELDOUT_LLM_FAMILY)
TRAPS = tuple(k for k in PUBLISHED_LLM_FAMILY if lf.LandscapeSpec.draw(k).trap)


def _random_configs(problem: lf.LLMLandscapeProblem, n: int, seed: int = 0) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((problem.suggest(trial), trial.params))
        study.tell(trial, 0.0)
    return out


def _best_log10_lr(params: dict, spec: lf.LandscapeSpec) -> float:
    """The rate minimising the noise-free loss with weight decay tuned along and the rest of ``params`` fixed."""

    def at(x: float) -> dict:
        iterations = lf.TRAIN_EXAMPLES_X_EPOCHS / params["batch_size"]
        return dict(params, learning_rate=10**x, weight_decay=0.015 / (10**x * iterations))  # the coupling's best

    centre = lf.log10_best_lr(params, spec)
    res = minimize_scalar(
        lambda x: lf.loss(at(x), spec), bounds=(centre - 1.0, centre + 0.4), method="bounded", options={"xatol": 1e-6}
    )
    assert lf.WD_RANGE[0] < at(res.x)["weight_decay"] < lf.WD_RANGE[1]
    return float(res.x)


def test_the_same_seed_draws_the_same_landscape_and_other_seeds_others() -> None:
    assert lf.LandscapeSpec.draw(3) == lf.LandscapeSpec.draw(3)
    assert len({lf.LandscapeSpec.draw(k) for k in ALL_SEEDS}) == len(ALL_SEEDS)
    a, b = make_problem("llm_family_3"), make_problem("llm_family_3")
    params = a.optimum_params()
    assert a.evaluate(params, 7) == b.evaluate(params, 7)
    assert a.optimum() == b.optimum()


def test_published_and_heldout_instances_are_disjoint_and_registered_as_such() -> None:
    assert PUBLISHED_LLM_FAMILY == lf.PUBLISHED_SEEDS
    assert not set(PUBLISHED_LLM_FAMILY) & set(HELDOUT_LLM_FAMILY) and len(HELDOUT_LLM_FAMILY) == 30
    published = {e.problem for e in SUITES["llm_family"]}
    heldout = {e.problem for e in SUITES["llm_family_heldout"]}
    assert published == {f"llm_family_{k}" for k in PUBLISHED_LLM_FAMILY}
    assert heldout == {f"llm_family_{k}" for k in HELDOUT_LLM_FAMILY}
    assert heldout <= set(HELDOUT_PROBLEMS) and not published & set(HELDOUT_PROBLEMS)
    other_published = {
        e.problem
        for name in ("full", "ablation", "parallel", "uneven_4", "uneven_8", "pretraining")
        for e in SUITES[name]
    }
    assert not heldout & (published | other_published)
    assert {(s, e.n_seeds, e.n_trials) for e in SUITES["llm_family"] for s in e.samplers} == {
        (s, 20, 200) for s in ("cascade", "gp", "tpe_default", "tpe_independent", "random")
    } | {("cascade_no_tuning_share", 10, 200)}  # the ablation of the tuning share
    assert {(s, e.n_seeds, e.n_trials) for e in SUITES["llm_family_heldout"] for s in e.samplers} == {
        (s, 3, 200) for s in ("cascade", "gp", "tpe_default")
    }


def test_every_instance_has_the_drawn_heads_within_their_bounds() -> None:
    for k in ALL_SEEDS:
        s = lf.LandscapeSpec.draw(k)
        assert 3 <= len(s.families) <= 5 and {"adamw", "sgd"} <= set(s.family_names), k
        assert 2 <= len(s.schedules) <= 5 and 3 <= len(s.rank_levels) <= 5 and 2 <= len(s.targets) <= 4, k
        assert all(b == 2 * a for a, b in zip(s.rank_levels, s.rank_levels[1:])) and s.rank_levels[-1] <= 64, k
        assert lf.STRATEGY_BOUNDS[0] <= s.n_strategies <= lf.STRATEGY_BOUNDS[1], k
        lrs = [f.log10_lr for f in s.families]
        assert max(lrs) - min(lrs) == pytest.approx(s.spread) and 0.7 <= s.spread <= 2.0, k
        assert lrs == sorted(lrs) and s.family_names[-1] == "sgd", k  # the customary order, SGD highest
        assert 0.01 <= s.gap <= 0.05 and "sgd" not in (s.best, s.runner_up), k
        # trap: the family easiest to tune first (the widest basin) is the runner-up; otherwise it is the best
        assert s.easiest == (s.runner_up if s.trap else s.best), k
    assert 2 <= len(TRAPS) <= 4
    spreads = [lf.LandscapeSpec.draw(k).spread for k in PUBLISHED_LLM_FAMILY]
    gaps = [lf.LandscapeSpec.draw(k).gap for k in PUBLISHED_LLM_FAMILY]
    assert min(spreads) < 1.0 < 1.6 < max(spreads) and min(gaps) < 0.02 < 0.045 < max(gaps)


def test_the_module_docstring_table_is_describe() -> None:
    assert lf.describe() in lf.__doc__


@pytest.mark.parametrize("seed", PUBLISHED_LLM_FAMILY)
def test_the_optimum_is_the_minimum_and_its_configuration_reaches_it(seed: int) -> None:
    problem = make_problem(f"llm_family_{seed}")
    opt = problem.optimum()
    best = problem.optimum_params()
    assert lf.loss(best, problem.spec) == pytest.approx(opt, abs=1e-12)
    assert problem.evaluate(best, 0).true_value == pytest.approx(opt, abs=1e-12)
    assert opt == min(problem.family_minima().values())
    values = [lf.loss(p, problem.spec) for p, _ in _random_configs(problem, 1500, seed)]
    assert min(values) > opt
    # no small move of the optimum's tactical values goes below it
    rng = np.random.default_rng(seed)
    for _ in range(200):
        moved = dict(best)
        for name in ("learning_rate", "weight_decay", "grad_clip"):
            moved[name] = best[name] * 10 ** rng.normal(0.0, 0.05)
        moved["learning_rate"] = min(max(moved["learning_rate"], lf.LR_RANGE[0]), lf.LR_RANGE[1])
        moved["weight_decay"] = min(max(moved["weight_decay"], lf.WD_RANGE[0]), lf.WD_RANGE[1])
        moved["grad_clip"] = min(max(moved["grad_clip"], lf.CLIP_RANGE[0]), lf.CLIP_RANGE[1])
        moved["warmup_ratio"] = min(max(best["warmup_ratio"] + rng.normal(0.0, 0.01), 0.0), lf.WARMUP_RANGE[1])
        moved["batch_size"] = int(min(max(best["batch_size"] + rng.integers(-2, 3), 8), 256))
        assert lf.loss(moved, problem.spec) >= opt - 1e-12


def test_the_pure_offset_heads_add_their_offset_to_the_tuned_value() -> None:
    problem = make_problem("llm_family_4")
    s = problem.spec
    best = problem.optimum_params()
    for target, target_offset in zip(s.targets, s.target_offsets):
        value, _ = lf.group_minimum(dict(best, lora_targets=target), s)
        expected = problem.optimum() + target_offset - min(s.target_offsets)
        assert value == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", PUBLISHED_LLM_FAMILY)
def test_the_best_family_beats_the_runner_up_by_the_drawn_gap_once_both_are_tuned(seed: int) -> None:
    problem = make_problem(f"llm_family_{seed}")
    s, minima = problem.spec, problem.family_minima()
    assert set(minima) == set(s.family_names)
    ranked = sorted(minima, key=minima.get)
    assert ranked[:2] == [s.best, s.runner_up]
    assert minima[s.runner_up] - minima[s.best] == pytest.approx(s.gap, abs=1e-4)
    assert problem.family(problem.optimum_params()) == s.best
    assert all(problem.family(problem.family_best_params(f)) == f for f in s.family_names)


def _trap_margin(problem: lf.LLMLandscapeProblem) -> float:
    """The best family, tuned in all but the rate, at the runner-up's best rate, against the runner-up tuned."""
    s = problem.spec
    runner_up = problem.family_best_params(s.runner_up)
    at_its_rate = dict(problem.family_best_params(s.best), learning_rate=runner_up["learning_rate"])
    return lf.loss(at_its_rate, s) - problem.family_minima()[s.runner_up]


@pytest.mark.parametrize("seed", TRAPS)
def test_in_a_trap_instance_the_best_family_looks_worse_at_the_runner_ups_rate(seed: int) -> None:
    problem = make_problem(f"llm_family_{seed}")
    assert _trap_margin(problem) > 0.1
    s = problem.spec
    best, runner_up = s.family(s.best), s.family(s.runner_up)
    assert best.basin_width < runner_up.basin_width
    assert abs(runner_up.log10_lr - lf.LR_MIDDLE) <= 0.3 < 0.55 <= abs(best.log10_lr - runner_up.log10_lr)


@pytest.mark.slow
def test_every_heldout_trap_instance_has_the_trap_property() -> None:
    traps = [k for k in HELDOUT_LLM_FAMILY if lf.LandscapeSpec.draw(k).trap]
    assert traps
    for k in traps:
        assert _trap_margin(lf.LLMLandscapeProblem(k)) > 0.1, k


@pytest.mark.parametrize("seed", (1, 5))
def test_the_best_rate_moves_with_batch_size_by_the_square_root_for_adam_and_linearly_for_sgd(seed: int) -> None:
    problem = make_problem(f"llm_family_{seed}")
    s = problem.spec
    for family in (s.best, "sgd"):
        base = problem.family_best_params(family)
        small = _best_log10_lr(dict(base, batch_size=16), s)
        large = _best_log10_lr(dict(base, batch_size=128), s)
        exponent = 1.0 if family == "sgd" else 0.5
        assert large - small == pytest.approx(exponent * math.log10(8), abs=1e-3), family


def test_warmup_moves_the_divergence_cliff_up() -> None:
    problem = make_problem("llm_family_2")
    s = problem.spec
    for family in s.family_names:
        base = problem.family_best_params(family)

        def cliff(warmup: float, base: dict = base) -> float:  # the rate where the loss is half-way to diverged
            p = dict(base, warmup_ratio=warmup)
            centre = lf.log10_best_lr(p, s)
            half = (lf.loss(dict(p, learning_rate=10**centre), s) + lf.DIVERGED_LOSS) / 2.0
            return brentq(lambda x: lf.loss(dict(p, learning_rate=10**x), s) - half, centre, centre + 3.0)

        without, with_warmup = cliff(0.0), cliff(0.06)
        assert with_warmup - without == pytest.approx(s.warmup_cliff, abs=0.05), family
        assert cliff(0.2) == pytest.approx(with_warmup, abs=1e-3)  # saturated at 6% of training


def test_conditional_parameters_are_suggested_only_when_active() -> None:
    problem = next(
        make_problem(f"llm_family_{k}") for k in PUBLISHED_LLM_FAMILY if lf.LandscapeSpec.draw(k).regularization
    )
    seen = set()
    for params, suggested in _random_configs(problem, 300):
        assert params.keys() == suggested.keys()
        sgd = params["optimizer"] == "sgd"
        assert ("momentum" in params) == sgd == ("nesterov" in params)
        assert ("lora_dropout" in params) == (params["regularization"] == "lora_dropout")
        assert params["lora_rank"] in range(problem.spec.rank_levels[0], problem.spec.rank_levels[-1] + 1)
        seen.add((sgd, params["regularization"]))
    assert len(seen) == 4
    without = next(
        make_problem(f"llm_family_{k}") for k in PUBLISHED_LLM_FAMILY if not lf.LandscapeSpec.draw(k).regularization
    )
    assert all("regularization" not in p for p, _ in _random_configs(without, 50))


def test_noise_is_zero_mean_around_the_true_value_and_larger_near_the_cliff() -> None:
    problem = make_problem("llm_family_3")
    s = problem.spec
    best = problem.optimum_params()
    near_cliff = dict(best, learning_rate=10 ** (lf.log10_best_lr(best, s) + lf.cliff_distance(best, s) - 0.2))
    spreads = []
    for params in (best, near_cliff):
        draws = [problem.evaluate(params, k) for k in range(4000)]
        assert {d.true_value for d in draws} == {lf.loss(params, s)}
        residuals = np.array([d.value - d.true_value for d in draws])
        sd = lf.noise_sd(params, s)
        assert abs(residuals.mean()) < 4.0 * sd / math.sqrt(len(draws))
        assert residuals.std() == pytest.approx(sd, rel=0.1)
        spreads.append(sd)
    assert spreads[1] > 2.0 * spreads[0]
