"""The task registry and the digits_mlp task: real training, intermediate reports, pruning, data files."""

from __future__ import annotations

from optional_extras import require_cli_extra


require_cli_extra()


import math
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState
import pytest
import torch

from cascaderl_optuna.cli.tasks import available_tasks
from cascaderl_optuna.cli.tasks import describe_tasks
from cascaderl_optuna.cli.tasks import Evaluation
from cascaderl_optuna.cli.tasks import get_task
from cascaderl_optuna.cli.tasks import register_task
from cascaderl_optuna.cli.tasks import Task
from cascaderl_optuna.cli.tasks import TrainingDiverged
from cascaderl_optuna.cli.tasks import UnknownTaskError
from cascaderl_optuna.cli.tasks._training import GIB
from cascaderl_optuna.cli.tasks._training import is_out_of_memory
from cascaderl_optuna.cli.tasks._training import make_optimizer
from cascaderl_optuna.cli.tasks._training import MEMORY_CONSTRAINT
from cascaderl_optuna.cli.tasks._training import MemoryMeter
from cascaderl_optuna.cli.tasks.digits_mlp import DigitsMLPTask
from cascaderl_optuna.search_space import SearchSpaceError


@pytest.fixture(scope="module")
def task() -> DigitsMLPTask:
    return DigitsMLPTask(epochs=3)


def test_registry_knows_digits_and_takes_new_tasks(monkeypatch) -> None:
    import cascaderl_optuna.cli.tasks as tasks

    monkeypatch.setattr(tasks, "_REGISTRY", {})  # leave no "tiny" task behind
    assert "digits_mlp" in available_tasks()
    assert isinstance(get_task("digits_mlp"), DigitsMLPTask)
    with pytest.raises(UnknownTaskError, match="unknown task 'no_such_task'.*digits_mlp"):
        get_task("no_such_task")

    class Tiny(DigitsMLPTask):
        name = "tiny"

    register_task("tiny", lambda **kw: Tiny(epochs=1, **kw))
    assert "tiny" in available_tasks() and get_task("tiny").epochs == 1


def test_tasks_are_described_from_their_class_without_building_one(monkeypatch) -> None:
    import cascaderl_optuna.cli.tasks as tasks
    from cascaderl_optuna.cli.tasks.text_classification import TextClassificationTask

    class NeedsSomething(DigitsMLPTask):
        description = "a task whose extra is not installed"
        extra = "exotic"
        extra_modules = ("json", "no_such_module_for_this_test")

        def __init__(self) -> None:
            raise AssertionError("describing a task must not build it")

    monkeypatch.setattr(tasks, "_REGISTRY", {})
    monkeypatch.setattr(tasks, "_DESCRIPTIONS", {})
    register_task("needs", NeedsSomething)
    register_task("lambda_made", lambda **kw: DigitsMLPTask(epochs=1, **kw), description="built by a lambda")
    infos = {i.name: i for i in describe_tasks()}
    assert sorted(infos) == ["digits_mlp", "lambda_made", "needs", "text_classification"]
    assert infos["digits_mlp"].description == DigitsMLPTask.description != ""
    assert infos["digits_mlp"].extra is None and infos["digits_mlp"].missing == ()
    assert infos["text_classification"].description == TextClassificationTask.description
    assert infos["text_classification"].extra == "llm"
    assert infos["needs"].missing == ("no_such_module_for_this_test",)
    assert infos["lambda_made"].description == "built by a lambda"


def test_builtin_space_matches_the_task(task: DigitsMLPTask) -> None:
    space = task.load_space()
    assert space.strategic_names == ("optimizer", "scheduler", "dropout")
    assert space.strategic_params == ("dropout",)
    assert space["momentum"].when == {"optimizer": ("sgd",)}
    assert space["warmup_ratio"].when == {"scheduler": ("warmup_cosine", "constant_warmup")}
    assert set(task.default_params) == set(space.names)
    # The splits are disjoint and cover the data (60/20/20).
    sizes = {k: len(y) for k, (_, y) in task.splits.items()}
    assert sum(sizes.values()) == 1797 and sizes["test"] == 360 and sizes["val"] == 360


def test_objective_reports_every_epoch_and_can_be_pruned(task: DigitsMLPTask) -> None:
    space = task.load_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"optimizer": "adamw", "scheduler": "cosine", "dropout": 0.0, "learning_rate": 3e-3})
    study.optimize(lambda t: task.objective(t, space.suggest(t)), n_trials=1)
    (trial,) = study.trials
    assert trial.state == TrialState.COMPLETE
    assert sorted(trial.intermediate_values) == [0, 1, 2]
    assert trial.value == trial.intermediate_values[2]  # the last epoch's validation loss
    assert trial.value < 1.0 and 0.7 < trial.user_attrs["val_accuracy"] <= 1.0  # it learned
    # A pruner that stops everything after the first report.
    pruned = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    pruned.optimize(lambda t: task.objective(t, space.suggest(t)), n_trials=1)
    assert pruned.trials[0].state == TrialState.PRUNED and list(pruned.trials[0].intermediate_values) == [0]


def test_divergence_raises_training_diverged_with_a_reason(task: DigitsMLPTask) -> None:
    params = {"optimizer": "sgd", "learning_rate": 80.0, "momentum": 0.99, "clip_norm": 1e6}
    with pytest.raises(TrainingDiverged, match="sgd, learning rate 80"):
        task.evaluate(params)


def test_evaluate_measures_on_the_held_out_split_and_is_seeded(task: DigitsMLPTask) -> None:
    a = task.evaluate(task.default_params, seed=0)
    b = task.evaluate(task.default_params, seed=0)
    c = task.evaluate(task.default_params, seed=1)
    assert isinstance(a, Evaluation)
    assert a.metrics == b.metrics and a.metrics != c.metrics
    assert set(a.metrics) == {"test_loss", "test_accuracy"} and all(math.isfinite(v) for v in a.metrics.values())
    assert [len(v) for v in a.curves.values()] == [3, 3, 3]
    assert a.curves["train_loss"][-1] < a.curves["train_loss"][0]


def test_own_data_from_csv_and_npz(tmp_path) -> None:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    labels = np.where(y == 1, "benign", "malignant")
    csv = tmp_path / "cancer.csv"
    with csv.open("w") as f:
        f.write(",".join(f"f{i}" for i in range(x.shape[1])) + ",label\n")
        for row, label in zip(x, labels):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    npz = tmp_path / "cancer.npz"
    np.savez(npz, x=x, y=y)
    for path in (csv, npz):
        task = get_task("digits_mlp", data=str(path))
        assert task.n_features == 30 and task.n_classes == 2
        assert sum(len(y) for _, y in task.splits.values()) == len(x)
        task.epochs = 2
        ev = task.evaluate(dict(task.default_params, learning_rate=1e-2))
        assert ev.metrics["test_accuracy"] > 0.8
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,x,0\n")
    with pytest.raises(ValueError, match="must be numeric"):
        get_task("digits_mlp", data=str(bad))


def test_space_checks_against_the_task(task: DigitsMLPTask, tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("parameters:\n  dropout: {role: strategic, type: float, low: 0.0, high: 1.0, step: 0.5}\n")
    with pytest.raises(
        SearchSpaceError, match=r"'dropout' does not fit task 'digits_mlp': 1.0 is above .*\[0.0, 1.0\)"
    ):
        task.load_space(str(path))
    path.write_text("parameters:\n  batch_size: {role: tactical, type: float, low: 16.5, high: 64.0}\n")
    with pytest.raises(SearchSpaceError, match="it takes integers"):
        task.load_space(str(path))
    assert issubclass(DigitsMLPTask, Task)


def test_report_survives_a_configuration_that_diverges_at_evaluation(tmp_path) -> None:
    import json

    from cascaderl_optuna.cli.reports import write_reports

    class ExplodingDefault(DigitsMLPTask):
        default_params = dict(
            DigitsMLPTask.default_params, optimizer="sgd", learning_rate=80.0, clip_norm=1e6, momentum=0.99
        )

    task = ExplodingDefault(epochs=2)
    space = task.load_space()
    study = optuna.create_study()
    study.enqueue_trial(
        {
            "optimizer": "adamw",
            "scheduler": "cosine",
            "dropout": 0.0,
            "learning_rate": 3e-3,
            "weight_decay": 1e-4,
            "clip_norm": 1.0,
            "batch_size": 64,
        }
    )
    study.optimize(lambda t: task.objective(t, space.suggest(t)), n_trials=1)
    written = write_reports(study, task, space, tmp_path, seeds=(0,))
    report = json.loads(written["evaluation.json"].read_text())
    assert report["default"]["test"] is None and "sgd, learning rate 80" in report["default"]["diverged"]
    assert math.isfinite(report["best"]["test"]["test_loss"]) and report["improvement"] is None
    assert "| diverged |" in written["summary.md"].read_text()


def test_training_curves_use_the_steps_a_task_records():
    from cascaderl_optuna.cli.reports import _training_curves_figure
    from cascaderl_optuna.cli.tasks import Evaluation

    per_epoch = Evaluation({"loss": 1.0}, {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
    fig = _training_curves_figure({"default": [per_epoch]})
    assert list(fig.data[0].x) == [1, 2] and fig.layout.xaxis.title.text == "epoch"
    per_step = Evaluation(
        {"loss": 1.0}, {"step": [50, 100, 150], "train_loss": [0.7, 0.5, 0.4], "val_loss": [0.6, 0.5, 0.45]}
    )
    fig = _training_curves_figure({"default": [per_epoch], "best": [per_step]})
    assert list(fig.data[2].x) == [50, 100, 150] and list(fig.data[3].x) == [50, 100, 150]
    assert fig.layout.xaxis.title.text == "optimizer step"


def test_the_mlp_parts_switch_whole_operations_on_and_off() -> None:
    import torch

    from cascaderl_optuna.cli.tasks.digits_mlp import make_mlp
    from cascaderl_optuna.cli.tasks.digits_mlp import seeded
    from cascaderl_optuna.cli.tasks.digits_mlp import train_epochs

    plain = make_mlp(8, (5,), 3)
    assert [type(m).__name__ for m in plain] == ["Linear", "ReLU", "Linear"]
    with_dropout = make_mlp(8, (5, 4), 3, dropout=0.0)
    assert [type(m).__name__ for m in with_dropout] == [
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    x, y = torch.randn(20, 8), torch.arange(20) % 3
    epochs: list[tuple[int, float]] = []
    gen = seeded(0)
    model = make_mlp(8, (5,), 3)
    train_epochs(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=2,
        batch_size=8,
        generator=gen,
        on_epoch=lambda e, loss: epochs.append((e, loss)),
    )
    assert [e for e, _ in epochs] == [0, 1] and all(math.isfinite(v) for _, v in epochs)
    # A NaN loss: with `diverged` the run stops before the update; without it, it trains on.
    x_nan = x.clone()
    x_nan[0, 0] = float("nan")
    model = make_mlp(8, (5,), 3)
    with pytest.raises(TrainingDiverged, match="loss nan at epoch 0"):
        train_epochs(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            x_nan,
            y,
            epochs=1,
            batch_size=20,
            generator=seeded(0),
            diverged=lambda loss, e, s: TrainingDiverged(f"loss {loss} at epoch {e}"),
        )
    assert all(torch.isfinite(p).all() for p in model.parameters())
    train_epochs(
        model, torch.optim.SGD(model.parameters(), lr=0.1), x_nan, y, epochs=1, batch_size=20, generator=seeded(0)
    )
    assert not all(torch.isfinite(p).all() for p in model.parameters())


# -- memory: the meter, the budget, and runs that do not fit ------------------------------------------------------
def _one_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: int, meter: MemoryMeter) -> None:
    x = torch.randn(batch, 32)
    with meter.first_step(model):
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    meter.check(model, optimizer)


def test_the_memory_meter_counts_parameters_gradients_optimizer_state_and_activations() -> None:
    def peak(batch: int, optimizer: str) -> float:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(32, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8))
        opt = make_optimizer(optimizer, model.parameters(), 1e-3, 0.0, 0.0)
        meter = MemoryMeter("cpu")
        _one_step(model, opt, batch, meter)
        assert meter.peak_gib is not None
        return meter.peak_gib * GIB

    n_params = 32 * 256 + 256 + 256 * 8 + 8
    sgd = peak(4, "sgd")  # momentum 0: SGD keeps no state
    assert sgd >= 2 * 4 * n_params  # weights and gradients, float32
    adamw = peak(4, "adamw")
    assert adamw - sgd >= 2 * 4 * n_params  # AdamW's two moments
    # activations grow with the batch: at least the input and the hidden layer, per example
    assert peak(64, "sgd") - sgd >= 60 * 4 * (32 + 256)


def test_a_run_over_the_memory_budget_is_infeasible_with_its_reason_and_the_study_goes_on(task) -> None:
    small, large = {"batch_size": 8}, {"batch_size": 512}
    sizes = {}
    for name, params in (("small", small), ("large", large)):
        study = optuna.create_study()
        study.optimize(lambda t, p=params: task.objective(t, p), n_trials=1)
        sizes[name] = study.trials[0].user_attrs["memory_gib"]
        assert study.trials[0].constraints == {}  # no budget, no device limit on the CPU: nothing to constrain
    assert sizes["small"] < sizes["large"]
    budget = (sizes["small"] + sizes["large"]) / 2
    task.memory_budget_gib = budget
    try:
        study = optuna.create_study()
        study.enqueue_trial(large)
        study.enqueue_trial(small)
        study.optimize(lambda t: task.objective(t, t.params | {"batch_size": t.suggest_int("batch_size", 1, 512)}), 2)
    finally:
        task.memory_budget_gib = None
    over, fits = study.trials
    assert over.state == TrialState.COMPLETE and fits.state == TrialState.COMPLETE  # not FAIL
    assert over.constraints[MEMORY_CONSTRAINT] == pytest.approx(sizes["large"] - budget)
    assert over.user_attrs["infeasible_reason"].startswith("out of memory: a training step needs")
    assert over.value == pytest.approx(math.log(10))  # the uniform predictor's cross-entropy
    assert not over.intermediate_values  # stopped at its first step: no epoch ran
    assert fits.constraints[MEMORY_CONSTRAINT] == pytest.approx(sizes["small"] - budget)
    assert fits.constraints[MEMORY_CONSTRAINT] < 0
    assert study.best_trial.number == fits.number


@pytest.mark.skipif(
    not Path("/proc/sys/vm/overcommit_memory").exists()
    or Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1",
    reason="with memory overcommit always on, a huge allocation succeeds and the kernel kills the process instead",
)
def test_a_real_allocation_failure_is_stored_as_infeasible_not_failed() -> None:
    huge = DigitsMLPTask(epochs=1, hidden_units=10**10)  # a 64 x 1e10 float32 layer: 2.5 TB, refused by the allocator
    study = optuna.create_study()
    study.optimize(lambda t: huge.objective(t, {}), n_trials=1)
    (trial,) = study.trials
    assert trial.state == TrialState.COMPLETE
    assert trial.constraints == {MEMORY_CONSTRAINT: 1.0}  # how far it missed is not known
    assert "can't allocate memory" in trial.user_attrs["infeasible_reason"]
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory")) and not is_out_of_memory(ValueError("x"))
