"""Training pieces every built-in task shares: the optimizer families, the learning-rate schedule
shapes, and reporting validation losses to a trial so that pruners can stop it.

The tasks differ in their model and data, not in these: one definition keeps "AdamW", "cosine" or
"pruned at" meaning the same thing in every task.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
import math
from typing import Any

import optuna
import torch


OPTIMIZERS = ("adamw", "sgd", "adafactor")
SCHEDULERS = ("cosine", "warmup_cosine", "constant_warmup")


def make_optimizer(
    family: str, parameters: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, momentum: Any
) -> torch.optim.Optimizer:
    """torch's own AdamW, SGD with momentum (``momentum`` is read only there) or Adafactor."""
    if family == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    if family == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=float(momentum), weight_decay=weight_decay)
    return torch.optim.Adafactor(parameters, lr=lr, weight_decay=weight_decay)


def lr_factor(scheduler: str, total: int, warmup_ratio: float) -> Callable[[int], float]:
    """Multiplier of the learning rate at optimizer step ``t`` (``LambdaLR``)."""
    warmup = int(round(warmup_ratio * total)) if scheduler != "cosine" else 0

    def factor(t: int) -> float:
        if t < warmup:
            return (t + 1) / warmup
        if scheduler == "constant_warmup":
            return 1.0
        progress = (t - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def make_schedule(
    optimizer: torch.optim.Optimizer, scheduler: str, total_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(scheduler, total_steps, warmup_ratio))


def pruning_reporter(trial: optuna.Trial, unit: str) -> Callable[[int, float], None]:
    """``report(step, val_loss)``: reports to ``trial`` and raises ``TrialPruned`` when its pruner says so."""

    def report(step: int, val_loss: float) -> None:
        trial.report(val_loss, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at {unit} {step} (validation loss {val_loss:.4f})")

    return report
