"""``digits_mlp``: a small torch MLP trained for real on scikit-learn's bundled digits data.

The default task of the command line: it runs offline (scikit-learn ships the data), a trial
takes about a second on one CPU core, and its search space has the shape the cascade is built
for. Strategic: the optimizer family (AdamW, SGD with momentum, Adafactor), the learning-rate
schedule shape (cosine; linear warmup then cosine; linear warmup then constant) and the dropout
level. Tactical: learning rate (one shared by every family, as users write it), momentum (SGD
only), warmup ratio (warmup schedules only), weight decay, gradient clipping norm, batch size.

Data: 1,797 8x8 images, 10 classes, split once (stratified, fixed seed) into 60% train, 20%
validation and 20% test; features standardised on the training part. The objective is the
validation cross-entropy after ``EPOCHS`` epochs, reported after every epoch; the test split is
only touched by :meth:`DigitsMLPTask.evaluate`, the before/after report's held-out measure.
``--data FILE`` replaces the digits by your own table (``.csv`` with the label in the last column,
or ``.npz`` with arrays ``x`` and ``y``).

The model and its training loop (:func:`make_mlp`, :func:`train_epochs`) are also the benchmark
problem ``mlp_digits`` (``benchmarks/problems/training.py``): one implementation of "an MLP trained
on digits", configured differently there (one hidden layer, Adam/SGD/RMSprop, no dropout, schedule
or clipping, a 70/30 split), whose committed rows fix every number it returns. The options below
therefore switch whole operations on or off (the ``Dropout`` modules, clipping, the schedule, the
divergence check) rather than taking neutral values, so that the benchmark's configuration runs
exactly the operations it always ran: a neutral value (an infinite clipping norm, a constant
schedule) adds floating-point operations whose neutrality would have to hold for every input,
NaN and infinity included, to leave those numbers bit for bit as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import contextlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from cascaderl_optuna.cli.tasks import Evaluation
from cascaderl_optuna.cli.tasks import ParamRule
from cascaderl_optuna.cli.tasks import Task
from cascaderl_optuna.cli.tasks import TrainingDiverged
from cascaderl_optuna.cli.tasks._training import make_optimizer
from cascaderl_optuna.cli.tasks._training import make_schedule
from cascaderl_optuna.cli.tasks._training import MemoryMeter
from cascaderl_optuna.cli.tasks._training import OPTIMIZERS
from cascaderl_optuna.cli.tasks._training import SCHEDULERS
from cascaderl_optuna.cli.tasks._training import tuned_objective


EPOCHS = 12
DIVERGED_LOSS = 1e3
"""A validation cross-entropy above this (chance level on 10 classes is 2.3) counts as diverged."""


def seeded(seed: int) -> torch.Generator:
    """One torch thread, ``torch.manual_seed(seed)`` (weights, dropout) and a generator for the batch order.

    The tensors are tiny: threads cost more than they save, and one thread keeps runs repeatable.
    """
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_mlp(
    n_features: int, hidden: Sequence[int], n_classes: int, dropout: float | None = None
) -> torch.nn.Sequential:
    """``Linear -> ReLU [-> Dropout]`` per hidden width, then a linear output layer.

    ``dropout=None`` builds no ``Dropout`` module at all (see the module docstring); a number,
    even 0.0, puts one after every hidden layer. Weights are drawn from torch's global generator
    in layer order, so :func:`seeded` first makes them repeatable.
    """
    layers: list[torch.nn.Module] = []
    width = n_features
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        if dropout is not None:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    layers.append(torch.nn.Linear(width, n_classes))
    return torch.nn.Sequential(*layers)


def train_epochs(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    clip_norm: float | None = None,
    diverged: Callable[[float, int, int], Exception] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
    meter: MemoryMeter | None = None,
) -> None:
    """Mini-batch cross-entropy training: a new random batch order (from ``generator``) every epoch.

    Per batch: forward, backward, optionally clip the global gradient norm to ``clip_norm``, step
    the optimizer, optionally step ``schedule`` (per optimizer step). ``diverged(loss, epoch,
    step)``, when given, is called on a NaN or infinite batch loss and its exception raised before
    the update; without it training goes on (the benchmark scores such a run by its final loss).
    ``on_epoch(epoch, mean training loss)`` after each epoch: it may evaluate (switching the model
    to eval mode; the next epoch switches it back), report to a trial, or raise to stop.
    ``meter`` measures the first step's memory and raises when it is above its budget.
    """
    n = len(y)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for step, start in enumerate(range(0, n, batch_size)):
            idx = order[start : start + batch_size]
            with meter.first_step(model) if meter is not None else contextlib.nullcontext():
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                if diverged is not None and not torch.isfinite(loss):
                    raise diverged(loss.item(), epoch, step)
                optimizer.zero_grad()
                loss.backward()
                if clip_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
                optimizer.step()
            if meter is not None:
                meter.check(model, optimizer)
            if schedule is not None:
                schedule.step()
            total += loss.item() * len(idx)
        if on_epoch is not None:
            on_epoch(epoch, total / n)


def _load_table(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels from a ``.csv`` (label last, optional header) or ``.npz`` (x, y)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(
            f"--data {path}: no such file; give a .csv (label in the last column) or a .npz (arrays x, y)."
        )
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as data:
            keys = {k.lower(): k for k in data.files}
            if "x" not in keys or "y" not in keys:
                raise ValueError(f"--data {path}: the .npz file needs arrays named x and y, it has {data.files}.")
            x, y = np.asarray(data[keys["x"]], float), np.asarray(data[keys["y"]])
    elif p.suffix == ".csv":
        with p.open(encoding="utf-8") as f:
            first = f.readline().split(",")
        try:
            [float(v) for v in first[:-1]]
            skip = 0
        except ValueError:
            skip = 1  # a header line
        table = np.loadtxt(p, delimiter=",", skiprows=skip, dtype=str, ndmin=2)
        try:
            x = table[:, :-1].astype(float)
        except ValueError:
            raise ValueError(f"--data {path}: every column but the last (the label) must be numeric.") from None
        y = table[:, -1]
    else:
        raise ValueError(f"--data {path}: unknown format {p.suffix!r}; use .csv or .npz.")
    if x.ndim != 2 or len(x) != len(y) or len(x) < 20:
        raise ValueError(
            f"--data {path}: need a 2-D feature table with one label per row and at least 20 rows, "
            f"got {x.shape} and {np.shape(y)}."
        )
    if not np.isfinite(x).all():
        raise ValueError(f"--data {path}: the features contain NaN or infinite values.")
    _, labels = np.unique(y, return_inverse=True)
    if labels.max() < 1:
        raise ValueError(f"--data {path}: the labels have a single class; classification needs two or more.")
    return x, labels


class DigitsMLPTask(Task):
    """A two-hidden-layer MLP on scikit-learn's digits (or ``data``), trained with torch.

    Args:
        data: Optional path of your own classification table (see the module docstring).
        epochs: Epochs per training run.
        hidden_units: Width of both hidden layers.
    """

    name = "digits_mlp"
    description = "two-hidden-layer torch MLP on scikit-learn's digits (60/20/20 split)"
    direction = "minimize"
    objective_metric = "validation cross-entropy"
    test_metric = "test_loss"
    space_resource = "digits_mlp.yaml"
    default_params = {
        "optimizer": "adamw",
        "scheduler": "cosine",
        "dropout": 0.0,
        "learning_rate": 1e-3,
        "momentum": 0.9,
        "warmup_ratio": 0.0,
        "weight_decay": 1e-2,
        "clip_norm": 1.0,
        "batch_size": 64,
    }
    """AdamW at 1e-3 with weight decay 0.01, cosine decay, batch 64: the usual first try."""
    param_rules = {
        "optimizer": ParamRule(choices=OPTIMIZERS),
        "scheduler": ParamRule(choices=SCHEDULERS),
        "dropout": ParamRule(low=0.0, high=1.0, high_open=True),
        "learning_rate": ParamRule(low=0.0, high=100.0, low_open=True),
        "momentum": ParamRule(low=0.0, high=1.0, high_open=True),
        "warmup_ratio": ParamRule(low=0.0, high=1.0),
        "weight_decay": ParamRule(low=0.0, high=10.0),
        "clip_norm": ParamRule(low=0.0, high=1e6, low_open=True),
        "batch_size": ParamRule(low=1, high=4096, integer=True),
    }

    def __init__(self, data: str | None = None, epochs: int = EPOCHS, hidden_units: int = 64) -> None:
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        if data is None:
            from sklearn.datasets import load_digits

            x, y = load_digits(return_X_y=True)
        else:
            x, y = _load_table(data)
        stratify = y if np.bincount(y).min() >= 3 else None
        x_rest, x_te, y_rest, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=stratify)
        stratify = y_rest if stratify is not None else None
        x_tr, x_va, y_tr, y_va = train_test_split(x_rest, y_rest, test_size=0.25, random_state=0, stratify=stratify)
        scaler = StandardScaler().fit(x_tr)

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.tensor(scaler.transform(a), dtype=torch.float32)

        self.splits = {
            "train": (t(x_tr), torch.tensor(y_tr)),
            "val": (t(x_va), torch.tensor(y_va)),
            "test": (t(x_te), torch.tensor(y_te)),
        }
        self.n_features = x.shape[1]
        self.n_classes = int(y.max()) + 1
        self.epochs = epochs
        self.hidden_units = hidden_units

    # -- the training run shared by objective and evaluate --------------------------------------
    def train(
        self,
        params: Mapping[str, Any],
        seed: int,
        on_epoch: Callable[[int, float], None] | None = None,
        meter: MemoryMeter | None = None,
    ) -> tuple[torch.nn.Module, dict[str, list[float]]]:
        """Train one model; ``on_epoch(epoch, val_loss)`` after each epoch (may raise to stop).

        Raises:
            TrainingDiverged: the training loss became NaN/infinite, or the validation loss
                went above ``DIVERGED_LOSS``.
            MemoryBudgetExceeded: ``meter`` has a budget and the first step needs more.
        """
        p = self.full_params(params)
        gen = seeded(seed)
        model = make_mlp(self.n_features, (self.hidden_units, self.hidden_units), self.n_classes, dropout=p["dropout"])
        lr, wd = float(p["learning_rate"]), float(p["weight_decay"])
        opt = make_optimizer(p["optimizer"], model.parameters(), lr, wd, p.get("momentum"))
        x_tr, y_tr = self.splits["train"]
        x_va, y_va = self.splits["val"]
        batch = int(p["batch_size"])
        steps_per_epoch = math.ceil(len(y_tr) / batch)
        schedule = make_schedule(opt, p["scheduler"], steps_per_epoch * self.epochs, float(p["warmup_ratio"]))
        curves: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_accuracy": []}

        def diverged(loss: float, epoch: int, step: int) -> TrainingDiverged:
            return TrainingDiverged(
                f"training loss became {loss} at epoch {epoch}, step {step} ({p['optimizer']}, learning rate {lr:.3g})"
            )

        def after_epoch(epoch: int, train_loss: float) -> None:
            model.eval()
            with torch.no_grad():
                logits = model(x_va)
                val_loss = float(torch.nn.functional.cross_entropy(logits, y_va))
                val_acc = float((logits.argmax(1) == y_va).float().mean())
            if not math.isfinite(val_loss) or val_loss > DIVERGED_LOSS:
                raise TrainingDiverged(
                    f"validation loss {val_loss:.4g} at epoch {epoch} ({p['optimizer']}, "
                    f"learning rate {lr:.3g}): the run diverged"
                )
            curves["train_loss"].append(train_loss)
            curves["val_loss"].append(val_loss)
            curves["val_accuracy"].append(val_acc)
            if on_epoch is not None:
                on_epoch(epoch, val_loss)

        train_epochs(
            model,
            opt,
            x_tr,
            y_tr,
            epochs=self.epochs,
            batch_size=batch,
            generator=gen,
            schedule=schedule,
            clip_norm=float(p["clip_norm"]),
            diverged=diverged,
            on_epoch=after_epoch,
            meter=meter,
        )
        return model, curves

    def objective(self, trial: optuna.Trial, params: Mapping[str, Any]) -> float:
        """The validation loss after the last epoch, reported every epoch (:func:`tuned_objective`)."""
        return tuned_objective(
            trial,
            lambda report, meter: self.train(params, seed=trial.number, on_epoch=report, meter=meter)[1],
            MemoryMeter("cpu", self.memory_budget_gib),
            unit="epoch",
            infeasible_value=math.log(self.n_classes),
        )

    def evaluate(self, params: Mapping[str, Any], seed: int = 0) -> Evaluation:
        model, curves = self.train(params, seed=seed)
        x_te, y_te = self.splits["test"]
        with torch.no_grad():
            logits = model(x_te)
            loss = float(torch.nn.functional.cross_entropy(logits, y_te))
            acc = float((logits.argmax(1) == y_te).float().mean())
        return Evaluation({"test_loss": loss, "test_accuracy": acc}, curves)
