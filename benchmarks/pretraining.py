"""Pre-training of the high-level agent's feature weights with PPO over synthetic HPO studies.

Why: with 100-200 trials a study holds too little data to learn *how* to read the history
(how much a family's best, its uncertainty or the critic's optimism should count) from scratch;
published RL for hyperparameter search only beats Bayesian optimisation when its policy was
meta-trained on earlier tasks (Hyp-RL 2019, MetaBO 2020, OptFormer 2022). The high level's
history-reading part is 8 numbers (``theta``, one weight per feature of
:mod:`cascaderl_optuna._cascade.encoding`), shared by every head and choice, so it transfers between
studies whatever their parameters; the per-choice biases stay study-specific and are learned
online as before.

The decision process: a study is an episode; at each trial after the space-filling start the
high level sees the encoded history and picks a strategy; the reward of a trial is the fall of
the study's normalised regret it brings (the improvement of the incumbent, 0 when it does not
improve); the return is the discounted sum of later rewards. Episodes are synthetic studies drawn
from :class:`SyntheticProblem`: random mixed spaces (1-3 strategic heads of 2-4 choices, 1-4
tactical numbers, some log-scaled), each strategy with its own quality offset and its own optimum
of the tactical numbers, an optional divergence cliff, and noise. None of the benchmark problems
(LLM landscape, YAHPO, FCNet, bbob-mixint, the digits MLP) is in this distribution.

Learning: each round runs ``studies_per_round`` episodes with the current prior ``theta`` (the
full cascade, which fits biases and a small correction of ``theta`` online), then one PPO update
(:func:`cascaderl_optuna._cascade.ppo.ppo_update`, clipped surrogate) of a shift ``delta`` of the prior:
every stored decision is re-scored with ``theta_at_decision + delta`` and the biases it used,
against the log-probability it was taken with. A held-out set of synthetic studies, run with the
prior before and after, measures whether the round helped.

Run ``python -m benchmarks.pretraining`` to regenerate ``weights/high_level.json`` (plain
JSON: the weights, the settings, the per-round held-out figures). Use the result with
``CascadeSampler(high_level_theta="pretrained")``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import functools
import json
import math
from pathlib import Path
import time
from typing import Any
import warnings

import numpy as np
import optuna
import torch

from cascaderl_optuna._cascade.encoding import FEATURE_NAMES
from cascaderl_optuna._cascade.encoding import UNCERTAINTY
from cascaderl_optuna._cascade.high_level import DEFAULT_THETA
from cascaderl_optuna._cascade.high_level import head_policy
from cascaderl_optuna._cascade.high_level import HighLevelAgent
from cascaderl_optuna._cascade.history import discounted_returns
from cascaderl_optuna._cascade.ppo import normalise
from cascaderl_optuna._cascade.ppo import ppo_update
from cascaderl_optuna._cascade.pretrained import WEIGHTS_PATH
from cascaderl_optuna.sampler import CascadeSampler


# -------------------------------------------------------------------------------------------
# The synthetic task distribution.


@dataclass
class SyntheticProblem:
    """A random mixed search space with strategy-dependent optima; noise-free value known."""

    n_choices: list[int]
    offsets: list[np.ndarray]  # per head: quality offset of each choice
    log_dims: list[bool]
    optimum: np.ndarray  # (n_choices[0], d): the tactical optimum under each first-head choice
    curvature: np.ndarray  # (d,)
    cliff: float | None  # divergence: a penalty when dimension 0 exceeds its optimum by this much
    noise: float
    scale: float  # median value of a random configuration minus the optimum

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SyntheticProblem:
        n_heads = int(rng.integers(1, 4))
        n_choices = [int(rng.integers(2, 5)) for _ in range(n_heads)]
        spread = rng.uniform(0.05, 2.0, size=n_heads)
        offsets = [s * rng.exponential(1.0, size=c) for s, c in zip(spread, n_choices)]
        d = int(rng.integers(1, 5))
        problem = cls(
            n_choices=n_choices,
            offsets=[o - o.min() for o in offsets],
            log_dims=[bool(rng.random() < 0.5) for _ in range(d)],
            optimum=rng.uniform(0.1, 0.9, size=(n_choices[0], d)),
            curvature=np.exp(rng.uniform(np.log(0.5), np.log(20.0), size=d)),
            cliff=float(rng.uniform(0.1, 0.4)) if rng.random() < 0.5 else None,
            noise=float(rng.uniform(0.0, 0.1)),
            scale=1.0,
        )
        sample = [problem.true_value(problem.random_config(rng)) for _ in range(400)]
        problem.scale = max(float(np.median(sample)), 1e-9)  # the optimum is 0
        return problem

    def random_config(self, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
        return [int(rng.integers(c)) for c in self.n_choices], rng.random(len(self.log_dims))

    def true_value(self, config: tuple[list[int], np.ndarray]) -> float:
        choices, u = config
        value = sum(float(o[c]) for o, c in zip(self.offsets, choices))
        diff = u - self.optimum[choices[0]]
        value += float((self.curvature * diff**2).sum())
        if self.cliff is not None and diff[0] > self.cliff:
            value += 5.0
        return value

    def suggest(self, trial: optuna.Trial) -> tuple[list[int], np.ndarray]:
        choices = [trial.suggest_categorical(f"h{k}", list(range(c))) for k, c in enumerate(self.n_choices)]
        u = []
        for j, log in enumerate(self.log_dims):
            if log:  # the sampler sees a log-scaled range; the landscape is defined on its log
                x = trial.suggest_float(f"x{j}", 1e-4, 1.0, log=True)
                u.append((math.log10(x) + 4.0) / 4.0)
            else:
                u.append(trial.suggest_float(f"x{j}", 0.0, 1.0))
        return choices, np.array(u)


# -------------------------------------------------------------------------------------------
# Episodes.


@dataclass
class Episode:
    regret: np.ndarray  # normalised regret of the incumbent after each trial
    decisions: list[dict[str, Any]]  # the high level's decisions, with the trial index


class _RecordingHighLevelAgent(HighLevelAgent):
    """The shipped high-level agent, handing what it saw and did in each ``act`` to ``record`` (in memory only):
    pre-training re-scores each decision under other feature weights."""

    def __init__(self, n_choices: list[int], *, record: Callable[[dict[str, Any]], None], **kwargs: Any) -> None:
        super().__init__(n_choices, **kwargs)
        self._record = record

    def head_probabilities(self, k: int, phi: np.ndarray) -> np.ndarray:
        self._seen.append(phi.copy())
        return super().head_probabilities(k, phi)

    def act(self, rng, pending=None, fixed=None, critic_gap=None):  # type: ignore[no-untyped-def]
        self._seen: list[np.ndarray] = []
        chosen, log_probs, probs, gaps = super().act(rng, pending, fixed, critic_gap)
        fixed = fixed or {}
        self._record(
            {
                "features": self._seen,
                "bias": self.bias.numpy(),
                "theta": self.theta.numpy(),
                "chosen": chosen,
                "sampled": [k not in fixed for k in range(len(self.n_choices))],
                "log_prob": sum(lp for k, lp in enumerate(log_probs) if k not in fixed),
                "floor": self.floor,
                "share_mask": self._share_mask().numpy(),  # the heads that kept their tuning share
            }
        )
        return chosen, log_probs, probs, gaps


class RecordingCascade(CascadeSampler):
    """``CascadeSampler`` whose ``last_high_level`` is its last high-level decision (None before one).

    It goes through the sampler's documented agent seam (``_high_level_agent_class``): its agents are made by a
    factory that hands each decision back to the sampler.
    """

    last_high_level: dict[str, Any] | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._high_level_agent_class = functools.partial(_RecordingHighLevelAgent, record=self._record)

    def _record(self, decision: dict[str, Any]) -> None:
        self.last_high_level = decision


def run_episode(theta: np.ndarray, problem_seed: int, n_trials: int, sampler_seed: int) -> Episode:
    """One synthetic study with the cascade started from ``theta``; records its decisions."""
    rng = np.random.default_rng(problem_seed)
    problem = SyntheticProblem.draw(rng)
    sampler = RecordingCascade(seed=sampler_seed, high_level_theta=theta)
    study = optuna.create_study(sampler=sampler)
    noise_rng = np.random.default_rng(problem_seed + 7919)
    regret, decisions = [], []
    best_observed, best_true = math.inf, math.inf
    for t in range(n_trials):
        sampler.last_high_level = None
        trial = study.ask()
        config = problem.suggest(trial)
        decision = sampler.last_high_level
        true = problem.true_value(config)
        observed = true + problem.noise * float(noise_rng.standard_normal())
        study.tell(trial, observed)
        if observed < best_observed:
            best_observed, best_true = observed, true
        regret.append(min(best_true / problem.scale, 1.0))
        if decision is not None and any(decision["sampled"]):
            decisions.append({**decision, "t": t})
    return Episode(np.array(regret), decisions)


def _returns(regret: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted sum of the regret reductions from each trial on."""
    reward = -np.diff(np.r_[1.0, regret])  # >= 0: how much each trial lowered the incumbent's regret
    return discounted_returns(reward, gamma)


# -------------------------------------------------------------------------------------------
# The PPO update of the prior.


def ppo_round(
    episodes: list[Episode], *, gamma: float, clip: float, epochs: int, lr: float, l2: float
) -> tuple[np.ndarray, dict[str, float]]:
    """The shift of ``theta`` that one PPO update over the episodes' decisions makes."""
    feats, biases, thetas, chosen, sampled, masks, old, adv = [], [], [], [], [], [], [], []
    floor = None
    for ep in episodes:
        if not ep.decisions:
            continue
        returns = _returns(ep.regret, gamma)
        a = normalise(np.array([returns[d["t"]] for d in ep.decisions]))  # per study: removes its scale
        for d, advantage in zip(ep.decisions, a):
            feats.append(d["features"])
            biases.append(d["bias"])
            thetas.append(d["theta"])
            chosen.append(d["chosen"])
            sampled.append(d["sampled"])
            masks.append(d["share_mask"])
            old.append(d["log_prob"])
            adv.append(advantage)
            floor = d["floor"]
    if not adv:
        return np.zeros(len(FEATURE_NAMES)), {}
    n, k_max = len(adv), max(len(f) for f in feats)
    c_max = max(phi.shape[0] for f in feats for phi in f)
    phi_all = np.zeros((n, k_max, c_max, len(FEATURE_NAMES)))
    bias_all = np.zeros((n, k_max, c_max))
    valid = np.zeros((n, k_max, c_max), dtype=bool)
    n_per = np.ones((n, k_max))
    pick = np.zeros((n, k_max), dtype=np.int64)
    use = np.zeros((n, k_max), dtype=bool)
    share_mask = np.ones((n, k_max))
    for i, per_head in enumerate(feats):
        for k, phi in enumerate(per_head):
            n_c = phi.shape[0]
            phi_all[i, k, :n_c], bias_all[i, k, :n_c] = phi, biases[i][k, :n_c]
            valid[i, k, :n_c], n_per[i, k] = True, n_c
            pick[i, k], use[i, k], share_mask[i, k] = chosen[i][k], sampled[i][k], masks[i][k]
    phi_t, bias_t, valid_t = torch.tensor(phi_all), torch.tensor(bias_all), torch.tensor(valid)
    pick_t, use_t, n_per_t = torch.tensor(pick), torch.tensor(use), torch.tensor(n_per)
    share_mask_t = torch.tensor(share_mask)
    delta = torch.zeros(len(FEATURE_NAMES), dtype=torch.float64, requires_grad=True)
    theta_t = torch.tensor(np.array(thetas))
    old_lp = torch.tensor(old)
    advantages = torch.tensor(adv)

    def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
        """The stored decisions re-scored with the shifted weights (the agent's policy: floor and tuning share)."""
        logits = bias_t + torch.einsum("nkcf,nf->nkc", phi_t, theta_t + delta)
        policy = head_policy(
            logits, phi_t[..., UNCERTAINTY], valid_t, floor, n_per_t[..., None], share_mask=share_mask_t[..., None]
        )
        p = torch.where(valid_t, policy, 1.0)
        chosen_p = p.gather(-1, pick_t[..., None]).squeeze(-1)
        log_prob = torch.where(use_t, chosen_p.log(), 0.0).sum(-1)
        entropy = -torch.where(valid_t, p * p.log(), 0.0).sum((-1, -2))
        return log_prob, entropy

    stats = ppo_update(
        evaluate,
        [delta],
        old_lp,
        advantages,
        clip=clip,
        epochs=epochs,
        lr=lr,
        regulariser=lambda: l2 * (delta**2).sum(),
    )
    return delta.detach().numpy(), {"decisions": len(adv), **stats.as_dict()}


# -------------------------------------------------------------------------------------------
# The training loop.


def evaluate_theta(theta: np.ndarray, seeds: list[int], n_trials: int) -> dict[str, float]:
    """Mean over held-out synthetic studies of the normalised regret at 25%, 50% and 100% of the budget,
    and of its area under the curve (mean over trials)."""
    curves = np.array([run_episode(theta, s, n_trials, sampler_seed=s).regret for s in seeds])
    return {
        "auc": float(curves.mean()),
        "at_quarter": float(curves[:, n_trials // 4 - 1].mean()),
        "at_half": float(curves[:, n_trials // 2 - 1].mean()),
        "final": float(curves[:, -1].mean()),
    }


def train(
    *,
    rounds: int,
    studies_per_round: int,
    held_out: int,
    n_trials: int,
    gamma: float,
    clip: float,
    epochs: int,
    lr: float,
    l2: float,
    seed: int,
    log=print,
) -> dict[str, Any]:
    theta = DEFAULT_THETA.copy()
    held_out_seeds = [10_000_000 + seed * 1000 + i for i in range(held_out)]  # never trained on
    history = [{"round": 0, "theta": theta.tolist(), "held_out": evaluate_theta(theta, held_out_seeds, n_trials)}]
    log(f"round 0 (built-in prior): held-out {history[-1]['held_out']}")
    for r in range(1, rounds + 1):
        start = time.perf_counter()
        seeds = [seed * 1_000_000 + r * 1000 + i for i in range(studies_per_round)]
        episodes = [run_episode(theta, s, n_trials, sampler_seed=s) for s in seeds]
        delta, stats = ppo_round(episodes, gamma=gamma, clip=clip, epochs=epochs, lr=lr, l2=l2)
        theta = theta + delta
        held = evaluate_theta(theta, held_out_seeds, n_trials)
        history.append(
            {
                "round": r,
                "theta": theta.tolist(),
                "ppo": stats,
                "held_out": held,
                "train_auc": float(np.mean([ep.regret.mean() for ep in episodes])),
            }
        )
        log(
            f"round {r}: {time.perf_counter() - start:.0f} s, theta {np.round(theta, 3).tolist()}, "
            f"ppo {stats}, held-out {held}"
        )
    best = min(history, key=lambda h: h["held_out"]["auc"])  # the round whose prior did best on held-out studies
    return {
        "features": list(FEATURE_NAMES),
        "theta": best["theta"],
        "chosen_round": best["round"],
        "rounds": history,
        "settings": {
            "rounds": rounds,
            "studies_per_round": studies_per_round,
            "held_out": held_out,
            "n_trials": n_trials,
            "gamma": gamma,
            "clip": clip,
            "epochs": epochs,
            "lr": lr,
            "l2": l2,
            "seed": seed,
            "optuna": optuna.__version__,
            "torch": torch.__version__,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pretraining", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--studies-per-round", type=int, default=16)
    parser.add_argument("--held-out", type=int, default=12)
    parser.add_argument("--trials", type=int, default=80)
    parser.add_argument("--gamma", type=float, default=0.9)
    parser.add_argument("--clip", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    torch.set_num_threads(1)
    result = train(
        rounds=args.rounds,
        studies_per_round=args.studies_per_round,
        held_out=args.held_out,
        n_trials=args.trials,
        gamma=args.gamma,
        clip=args.clip,
        epochs=args.epochs,
        lr=args.lr,
        l2=args.l2,
        seed=args.seed,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} (round {result['chosen_round']}: theta {np.round(result['theta'], 3).tolist()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
