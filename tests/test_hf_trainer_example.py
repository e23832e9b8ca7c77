"""``examples/hf_trainer_lora.py``: CascadeSampler through transformers' ``Trainer.hyperparameter_search``.

Real (tiny) LoRA fine-tunings of the bundled MiniLM on a slice of ``../shared/data/sst2``: the study that Trainer
creates holds the trials with the hp_space's and model_init's parameters, the cascade's own decisions after its
start-up, and Trainer's evaluation losses as the pruner's intermediate values.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from optional_extras import require_llm_extra_and_sst2
import optuna
from optuna.trial import TrialState
import pytest

from cascaderl_optuna._cascade.records import Decision


ROOT = Path(__file__).resolve().parents[1]


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hf_trainer_lora", ROOT / "examples" / "hf_trainer_lora.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_trainer_hyperparameter_search_runs_the_cascade_on_lora_fine_tuning(tmp_path, monkeypatch) -> None:
    sst2 = require_llm_extra_and_sst2()
    monkeypatch.chdir(tmp_path)  # Trainer's output_dir
    storage = f"sqlite:///{tmp_path / 'lora.db'}"
    args = ["--trials", "12", "--max-steps", "2", "--train-size", "32", "--eval-size", "16", "--device", "cpu"]
    assert _example().main([*args, "--storage", storage, "--data", str(sst2)]) == 0

    trials = optuna.load_study(study_name="hf-trainer-lora", storage=storage).trials
    assert len(trials) == 12
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    for t in trials:
        # hp_space's parameters and model_init's LoRA shape, in one trial
        assert {"optim", "learning_rate", "lora_r", "lora_target_modules"} <= set(t.params)
        assert ("sgd_momentum" in t.params) == (t.params["optim"] == "sgd")
        assert t.intermediate_values, "Trainer reports each evaluation's loss to the trial"
    # After its ten start-up trials the cascade decides. Its high level chose every categorical of hp_space and of
    # model_init (the strategic roles), its low level the numbers: no configuration beyond CascadeSampler(seed=...).
    decisions = {t.number: Decision.read(t) for t in trials}
    assert [n for n, d in decisions.items() if d is not None] == [10, 11]
    for n in (10, 11):
        decision = decisions[n]
        assert decision is not None
        strategic = {"optim", "lr_scheduler_type", "per_device_train_batch_size", "lora_r", "lora_alpha"}
        assert set(decision.strategy) == strategic | {"lora_target_modules"}
        assert decision.ll_mean is not None and {"learning_rate", "lora_dropout"} <= set(decision.ll_mean)


def test_a_missing_data_folder_names_the_argument(tmp_path) -> None:
    with pytest.raises(SystemExit, match="--data"):
        _example().main(["--trials", "1", "--data", str(tmp_path / "nowhere")])
