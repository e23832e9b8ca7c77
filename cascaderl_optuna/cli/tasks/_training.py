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


# -- memory: what a training step holds, a budget, and a run that does not fit -----------------------------------
GIB = 2.0**30
MEMORY_CONSTRAINT = "memory_over_budget_gib"
"""The constraint the tasks set (``trial.set_constraint``): GiB above the memory budget, feasible when <= 0."""


class MemoryBudgetExceeded(torch.OutOfMemoryError):
    """A training step needs more memory than the budget: raised after the first step, as torch's own
    ``OutOfMemoryError`` would be on a device of the budget's size."""

    def __init__(self, needed_gib: float, budget_gib: float) -> None:
        super().__init__(f"a training step needs {needed_gib:.4g} GiB > budget {budget_gib:.4g} GiB")
        self.needed_gib = needed_gib
        self.budget_gib = budget_gib


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's ``OutOfMemoryError`` (CUDA, or a budget), or the CPU allocator's failure (a plain RuntimeError)."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


class MemoryMeter:
    """The peak memory of a training step, measured on the run's first step, and the budget it must fit.

    On CUDA the peak is the allocator's own (``torch.cuda.max_memory_allocated``). On the CPU it is the bytes the
    step holds: every parameter, every gradient, the optimizer's state after its first update, and the activations
    autograd saved for the backward pass (counted with ``torch.autograd.graph.saved_tensors_hooks``, each storage
    once, parameters excluded), all summed, as they coexist at the end of the forward pass and during backward. It
    does not count the allocator's overhead or short-lived temporaries, so it is a lower bound of what a device needs,
    and it grows with what fine-tuning memory grows with (batch size, sequence length, LoRA rank, target modules, the
    optimizer's state).

    Usage, around the first optimizer step only::

        with meter.first_step(model):
            loss = ...forward...; loss.backward(); optimizer.step()
        meter.check(model, optimizer)   # records peak_gib; raises MemoryBudgetExceeded over the budget
    """

    def __init__(self, device: torch.device | str = "cpu", budget_gib: float | None = None) -> None:
        self.device = torch.device(device)
        self.budget_gib = budget_gib
        self.peak_gib: float | None = None
        self._activation_bytes = 0
        self._seen: set[int] = set()
        self._measured = False

    @property
    def limit_gib(self) -> float | None:
        """What the step must fit in: the budget, else the CUDA device's memory, else nothing known (CPU)."""
        if self.budget_gib is not None:
            return self.budget_gib
        if self.device.type == "cuda":
            return torch.cuda.get_device_properties(self.device).total_memory / GIB
        return None

    def first_step(self, model: torch.nn.Module) -> Any:
        """A context around the first step's forward, backward and update (a no-op for the later steps)."""
        import contextlib

        if self._measured:
            return contextlib.nullcontext()
        self._seen.update(p.untyped_storage().data_ptr() for p in model.parameters())  # counted as parameters
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return contextlib.nullcontext()

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if key not in self._seen:
                self._seen.add(key)
                self._activation_bytes += storage.nbytes()
            return t

        return torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)

    def check(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Record the first step's peak (``peak_gib``); raise :class:`MemoryBudgetExceeded` above the budget."""
        if self._measured:
            return
        self._measured = True
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            params = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes() for p in model.parameters()}
            grads = sum(p.grad.nbytes for p in model.parameters() if p.grad is not None)
            state = sum(v.nbytes for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor))
            peak = sum(params.values()) + grads + state + self._activation_bytes
        self.peak_gib = peak / GIB
        if self.budget_gib is not None and self.peak_gib > self.budget_gib:
            raise MemoryBudgetExceeded(self.peak_gib, self.budget_gib)


def record_memory(trial: optuna.Trial, meter: MemoryMeter) -> None:
    """A run that fit: its peak memory (user attribute ``memory_gib``) and, where a limit is known, the constraint
    (peak minus limit, <= 0), so that every trial of the study carries it and constrained samplers see the margin."""
    if meter.peak_gib is None:
        return
    trial.set_user_attr("memory_gib", meter.peak_gib)
    limit = meter.limit_gib
    if limit is not None:
        trial.set_constraint(MEMORY_CONSTRAINT, meter.peak_gib - limit)


def record_out_of_memory(trial: optuna.Trial, exc: BaseException) -> None:
    """A run that did not fit: infeasible, with its reason (user attribute ``infeasible_reason``).

    The constraint is how far it missed where that is known (a budget: the measured need minus the budget), else
    1.0 (a device ran out of memory, by an amount torch does not say).
    """
    needed = getattr(exc, "needed_gib", None)
    budget = getattr(exc, "budget_gib", None)
    first_line = str(exc).splitlines()[0] if str(exc) else repr(exc)
    trial.set_user_attr("infeasible_reason", f"out of memory: {first_line}")
    if needed is not None:
        trial.set_user_attr("memory_gib", needed)
    trial.set_constraint(MEMORY_CONSTRAINT, needed - budget if needed is not None and budget is not None else 1.0)


def fit_or_infeasible(
    trial: optuna.Trial, run: Callable[[MemoryMeter], float], meter: MemoryMeter, infeasible_value: float
) -> float:
    """``run(meter)``, the trial's training; a run that runs out of memory is stored as infeasible, not as FAIL.

    A configuration that does not fit (torch's ``OutOfMemoryError``, the CPU allocator's failure, or the meter's
    budget) produced no model: the trial completes with ``infeasible_value`` (the task's loss of a model that
    predicts nothing: the uniform predictor's) and a positive constraint value, so ``study.best_trial`` skips it,
    constrained samplers learn where the memory runs out, and the study goes on. A run that fits records its peak
    memory (:func:`record_memory`), also when it is pruned.
    """
    import gc

    try:
        value: float | None = run(meter)
    except optuna.TrialPruned:
        record_memory(trial, meter)
        raise
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        record_out_of_memory(trial, exc)
        value = None
    if value is None:  # out of the except block: the traceback's frames, and the run's tensors, are released
        gc.collect()
        if meter.device.type == "cuda":
            torch.cuda.empty_cache()
        return infeasible_value
    record_memory(trial, meter)
    return value


def tuned_objective(
    trial: optuna.Trial,
    train: Callable[[Callable[[int, float], None], MemoryMeter], dict[str, list[float]]],
    meter: MemoryMeter,
    *,
    unit: str,
    infeasible_value: float,
) -> float:
    """The objective of every built-in task: one training run, its validation loss the trial's value.

    ``train(report, meter)`` trains once with the trial's configuration and returns its curves;
    it calls ``report(step, val_loss)`` after each validation pass (``unit`` names the step:
    ``"epoch"``, ``"step"``), which reports to the trial and stops the run when the pruner says
    so. The value is the last validation loss, the last validation accuracy is kept as the user
    attribute ``val_accuracy``, and a run that runs out of memory is infeasible
    (:func:`fit_or_infeasible`). One definition, so that "a trial" means the same in every task.
    """

    def run(meter: MemoryMeter) -> float:
        curves = train(pruning_reporter(trial, unit), meter)
        trial.set_user_attr("val_accuracy", curves["val_accuracy"][-1])
        return curves["val_loss"][-1]

    return fit_or_infeasible(trial, run, meter, infeasible_value)
