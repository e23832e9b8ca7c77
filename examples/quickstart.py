"""A small real study: tune an MLP classifier's optimizer family and its numbers with the cascade.

The model is a torch MLP trained for real on two interleaved noisy spirals generated with torch,
so the example needs nothing beyond the core dependencies and runs offline in about a minute. The study lives in an
embedded SQLite file (``quickstart.db``), so you can open it afterwards with::

    optuna-dashboard sqlite:///quickstart.db

Each run starts a fresh study: it replaces the study named ``quickstart`` in that file (and says so), so a second
run with the same seed repeats the first instead of adding 40 trials to it. ``--resume`` keeps the earlier trials
and adds ``--trials`` more to them.
"""

from __future__ import annotations

import argparse
import math

import optuna
import torch

from cascaderl_optuna import CascadeSampler


STUDY = "quickstart"


def make_data(seed: int = 0, n: int = 1200) -> tuple[torch.Tensor, ...]:
    """Two interleaved spirals with label noise: a small problem an MLP needs tuning for."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi
    label = torch.randint(0, 2, (n,), generator=g)
    sign = label * 2 - 1
    x = torch.stack([t * torch.cos(t) * sign, t * torch.sin(t) * sign], 1) / 10
    x = x + 0.05 * torch.randn(n, 2, generator=g)
    split = int(0.75 * n)
    return x[:split], label[:split], x[split:], label[split:]


def objective(trial: optuna.Trial) -> float:
    x_train, y_train, x_val, y_val = make_data()
    optimizer_name = trial.suggest_categorical("optimizer", ["adamw", "sgd", "rmsprop"])
    lr = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
    width = trial.suggest_int("width", 16, 128, log=True)
    weight_decay = trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True)
    torch.manual_seed(trial.number)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, 2),
    )
    if optimizer_name == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    elif optimizer_name == "sgd":
        momentum = trial.suggest_float("momentum", 0.0, 0.99)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = torch.optim.RMSprop(model.parameters(), lr=lr, weight_decay=weight_decay)
    for epoch in range(60):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), 64):
            idx = perm[i : i + 64]
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if not math.isfinite(loss.item()):
            raise optuna.TrialPruned("diverged")
        if epoch % 10 == 9:
            with torch.no_grad():
                error = (model(x_val).argmax(1) != y_val).float().mean().item()
            trial.report(error, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
    with torch.no_grad():
        return (model(x_val).argmax(1) != y_val).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="trials to run (default 40)")
    parser.add_argument("--storage", default="sqlite:///quickstart.db")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="add the trials to the earlier quickstart study instead of replacing it with a fresh one",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.resume:
        try:
            optuna.delete_study(study_name=STUDY, storage=args.storage)
        except KeyError:
            pass  # no earlier study of that name
        else:
            print(f"replaced the earlier {STUDY!r} study in {args.storage} (--resume adds to it instead)")
    study = optuna.create_study(
        study_name=STUDY,
        storage=args.storage,
        load_if_exists=args.resume,
        sampler=CascadeSampler(seed=args.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
    )
    if args.resume and study.trials:
        print(f"resuming the {STUDY!r} study in {args.storage}: {len(study.trials)} trials already there")
    study.optimize(objective, n_trials=args.trials)
    print(f"{len(study.trials)} trials in the {STUDY!r} study of {args.storage}")
    print(f"best validation error {study.best_value:.4f} with {study.best_params}")
    counts: dict[str, int] = {}
    for t in study.trials[-10:]:
        counts[t.params["optimizer"]] = counts.get(t.params["optimizer"], 0) + 1
    print(f"optimizer families of the last 10 trials: {counts}")


if __name__ == "__main__":
    main()
