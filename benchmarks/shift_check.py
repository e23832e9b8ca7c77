"""``shift_check.md``: does a kernel with per-choice shifts model the LoRA landscapes better than the shipped one?

    python -m benchmarks.shift_check > benchmarks/results/variants/shift_check.md

The ``choice_shifted_*`` variants of ``benchmarks/variants.py`` fit, with the critic's length scales, a shift of each
tactical coordinate per strategic choice, so that one optimizer family's landscape is another's moved along the
learning rate. This checks the model itself, apart from the search it drives, on the published LoRA landscapes: it runs
the shipped ``CascadeSampler`` (seeds 0-2, 150 trials; the trials every sampler would see), and at trials 40, 80 and
150 takes the last 100 trials (the critic's window), fits each kernel on the first 80% of them and predicts the other
20% (the next trials the sampler took). Reported, per kernel:

* the rank correlation (Spearman) between the predicted and the observed rank utilities of the held-out trials;
* for the optimizer head, how far each family's fitted learning-rate shift relative to the best family's is from the
  truth (the difference of their best rates, ``LandscapeSpec.families``), in decades; with no shift at all (the
  shipped kernel) the error is the difference itself.

Deterministic: the same output on every run on the same machine.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import optuna
from scipy.stats import spearmanr

from benchmarks.problems import make_problem
import benchmarks.variants as variants
from cascaderl_optuna._cascade.coordinates import choice_matrix
from cascaderl_optuna._cascade.coordinates import one_hot
from cascaderl_optuna._cascade.coordinates import split_search_space
from cascaderl_optuna._cascade.coordinates import unit_matrix
from cascaderl_optuna._cascade.critic import fit_kernel
from cascaderl_optuna._cascade.critic import GaussianProcessCritic
from cascaderl_optuna._cascade.history import rank_utilities


PROBLEMS = tuple(f"llm_family_{k}" for k in range(1, 7))
SEEDS = (0, 1, 2)
N_TRIALS = 150
ENDS = (40, 80, 150)
WINDOW = 100
TRAIN_SHARE = 0.8
PRIOR_SDS = (0.2, 0.05, 0.02)  # the variants' prior sd of a shift, and two tighter ones


def _study(problem_name: str, seed: int) -> tuple[optuna.Study, object]:
    from cascaderl_optuna import CascadeSampler

    problem = make_problem(problem_name)
    study = optuna.create_study(sampler=CascadeSampler(seed=seed, strategic_params=problem.strategic_params))
    for _ in range(N_TRIALS):
        trial = study.ask()
        study.tell(trial, problem.evaluate(problem.suggest(trial), noise_seed=trial.number).value)
    return study, problem


def _lr_shift_errors(shift, heads, tactical, spec) -> list[float]:  # type: ignore[no-untyped-def]
    """Decades between each family's fitted learning-rate shift (relative to the best family's) and the truth."""
    names = list(tactical)
    lr = names.index("learning_rate")
    dist = tactical["learning_rate"]
    decades = math.log10(dist.high) - math.log10(dist.low)
    offsets = np.cumsum([0, *[h.n_choices for h in heads]])
    k = [h.name for h in heads].index("optimizer")
    choices = list(heads[k].choices)
    column = {c: offsets[k] + j for j, c in enumerate(choices)}
    best = column[spec.best]
    errors = []
    for family in spec.families:
        if family.name == spec.best or family.name not in column:
            continue
        fitted = (shift[lr, column[family.name]] - shift[lr, best]) * decades
        true = spec.family(spec.best).log10_lr - family.log10_lr
        errors.append(abs(fitted - true))
    return errors


def main() -> None:
    sampler_class = variants.VARIANTS["choice_shifted_critic"].make_sampler_class()
    kernels = ("shipped", *[f"shifted, prior sd {sd}" for sd in PRIOR_SDS])
    rho: dict[tuple[str, int], list[float]] = {(k, e): [] for k in kernels for e in ENDS}
    shift_error: dict[tuple[str, int], list[float]] = {(k, e): [] for k in kernels for e in ENDS}
    for problem_name in PROBLEMS:
        for seed in SEEDS:
            study, problem = _study(problem_name, seed)
            for end in ENDS:
                trials = study.trials[max(0, end - WINDOW) : end]
                space = optuna.search_space.intersection_search_space(trials)
                heads, tactical = split_search_space(space, problem.strategic_params)
                n_tac = len(tactical)
                x = np.hstack(
                    [
                        np.nan_to_num(unit_matrix(trials, tactical), nan=0.5),
                        one_hot(choice_matrix(trials, heads), heads),
                    ]
                )
                y = rank_utilities(trials, study.direction)
                n_train = int(TRAIN_SHARE * len(y))
                train, test = slice(0, n_train), slice(n_train, None)
                params = fit_kernel(x[train], y[train])
                mean, _ = GaussianProcessCritic(x[train], y[train], params).predict(x[test])
                rho[("shipped", end)].append(float(spearmanr(mean, y[test])[0]))
                shift_error[("shipped", end)] += _lr_shift_errors(
                    np.zeros((n_tac, x.shape[1] - n_tac)), heads, tactical, problem.spec
                )
                for sd, name in zip(PRIOR_SDS, kernels[1:]):
                    variants.SHIFT_PRIOR_SD = sd
                    params, shift = sampler_class.fit_shifted_kernel(x[train], y[train], n_tac)
                    moved = sampler_class.in_frame(x, shift, n_tac)
                    mean, _ = GaussianProcessCritic(moved[train], y[train], params).predict(moved[test])
                    rho[(name, end)].append(float(spearmanr(mean, y[test])[0]))
                    shift_error[(name, end)] += _lr_shift_errors(shift, heads, tactical, problem.spec)
    out = sys.stdout
    n_fits = len(PROBLEMS) * len(SEEDS)
    out.write("# A kernel with per-choice shifts against the shipped one, on the published LoRA landscapes\n\n")
    out.write(
        "Written by `python -m benchmarks.shift_check` (what it does: its docstring). Shipped `CascadeSampler`, "
        f"{len(PROBLEMS)} landscapes x seeds {SEEDS[0]}-{SEEDS[-1]} x {N_TRIALS} trials; at each trial below, the last "
        f"{WINDOW} trials, the first {int(TRAIN_SHARE * 100)}% to fit and the rest to predict ({n_fits} fits per cell)."
        "\n\n"
    )
    out.write("Rank correlation of predicted and observed utilities of the held-out trials (median; mean):\n\n")
    out.write("| kernel | " + " | ".join(f"trial {e}" for e in ENDS) + " |\n")
    out.write("|---|" + "---|" * len(ENDS) + "\n")
    for k in kernels:
        cells = [f"{np.median(rho[(k, e)]):.3f}; {np.mean(rho[(k, e)]):.3f}" for e in ENDS]
        out.write(f"| {k} | " + " | ".join(cells) + " |\n")
    out.write(
        "\nError of each family's learning-rate shift relative to the best family's, in decades (median over the "
        "families and fits; for the shipped kernel, which has no shift, the true difference of the best rates):\n\n"
    )
    out.write("| kernel | " + " | ".join(f"trial {e}" for e in ENDS) + " |\n")
    out.write("|---|" + "---|" * len(ENDS) + "\n")
    for k in kernels:
        out.write(f"| {k} | " + " | ".join(f"{np.median(shift_error[(k, e)]):.2f}" for e in ENDS) + " |\n")


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    main()
