"""The table of real LoRA fine-tuning runs (benchmarks/lora_runs.py): its configurations, its shards, and two real
runs of the collection, resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import lora_runs
from tests.optional_extras import require_llm_extra_and_sst2


def test_configurations_are_fixed_and_inside_the_space() -> None:
    for config in range(200):
        params = lora_runs.draw_params(config)
        assert params == lora_runs.draw_params(config)  # the table is a fixed list
        for name in lora_runs.CATEGORICAL:
            assert params[name] in lora_runs.SPACE[name]
        for name in ("learning_rate", "warmup_ratio", "weight_decay"):
            low, high, _ = lora_runs.SPACE[name]
            assert low <= params[name] <= high
        assert ("sgd_momentum" in params) == (params["optim"] == "sgd")
    drawn = [lora_runs.draw_params(c) for c in range(200)]
    for name in lora_runs.CATEGORICAL:  # every choice of every head is in the first 200
        assert {p[name] for p in drawn} == set(lora_runs.SPACE[name]), name


def test_the_table_is_960_configurations_and_two_more_seeds_of_the_first_twenty_collected_first() -> None:
    table = lora_runs.jobs(1000)
    assert len(table) == len(set(table)) == 1000
    assert sorted(j.config for j in table if j.seed == 0) == list(range(960))
    assert {(j.config, j.seed) for j in table if j.seed} == {(c, s) for c in range(20) for s in (1, 2)}
    assert {j.config for j in table[:60]} == set(range(20))  # a partial table already measures the noise
    assert lora_runs.jobs(5) == [lora_runs.Job(c, 0) for c in range(5)]  # too small for replicates


def test_shards_are_written_whole_and_read_back(tmp_path: Path) -> None:
    rows = [{"config": 0, "seed": 0, "curve": [[20, 0.69]], "final": 0.69}, {"config": 1, "seed": 0, "final": None}]
    lora_runs.write_shard(tmp_path / "part-0-0000.jsonl.gz", rows)
    first = (tmp_path / "part-0-0000.jsonl.gz").read_bytes()
    lora_runs.write_shard(tmp_path / "part-0-0000.jsonl.gz", rows)
    assert (tmp_path / "part-0-0000.jsonl.gz").read_bytes() == first  # deterministic bytes
    assert lora_runs.read_rows(tmp_path) == rows
    assert not list(tmp_path.glob("*.tmp"))


def test_collect_refuses_to_mix_protocols_and_keeps_the_rows(tmp_path: Path) -> None:
    old = dict(lora_runs.protocol(), max_steps=lora_runs.MAX_STEPS + 20)
    rows = [{"config": 0, "seed": 0, "protocol": old, "final": 0.5}]
    lora_runs.write_shard(tmp_path / "part-0-0000.jsonl.gz", rows)
    (tmp_path / "train.tsv").write_text("sentence\tlabel\nfine\t1\n")
    with pytest.raises(SystemExit, match="--out: .* another protocol"):
        lora_runs.collect(2, 1, tmp_path, "cpu", tmp_path)
    assert lora_runs.read_rows(tmp_path) == rows


@pytest.mark.slow  # two real LoRA fine-tunings of MiniLM
def test_collect_runs_real_fine_tunings_records_their_curves_and_resumes(tmp_path: Path, monkeypatch) -> None:
    sst2 = require_llm_extra_and_sst2()
    for name, value in {"MAX_STEPS": 4, "EVAL_EVERY": 2, "TRAIN_SENTENCES": 64, "EVAL_SENTENCES": 16}.items():
        monkeypatch.setattr(lora_runs, name, value)
    assert lora_runs.collect(2, 1, sst2, "cpu", tmp_path) == 2
    rows = sorted(lora_runs.read_rows(tmp_path), key=lambda r: r["config"])
    assert [(r["config"], r["seed"]) for r in rows] == [(0, 0), (1, 0)]
    for row in rows:
        assert row["params"] == lora_runs.draw_params(row["config"])
        assert row["status"] in ("ok", "diverged", "oom")
        assert [step for step, _ in row["curve"]] in ([2, 4], [2])  # a diverged run stops at its first bad loss
        assert row["final"] == row["curve"][-1][1]
        assert row["seconds"] > 0 and row["peak_memory_gib"] > 0.1  # the model alone is about 90 MB in float32
        assert {"torch", "transformers", "peft"} <= set(row["versions"])
        assert row["protocol"] == lora_runs.protocol()
    assert lora_runs.collect(3, 1, sst2, "cpu", tmp_path) == 1  # resumed: only configuration 2 is new
    assert len(lora_runs.read_rows(tmp_path)) == 3


@pytest.mark.slow  # one real LoRA fine-tuning of MiniLM
def test_time_measures_runs_without_adding_them_to_the_table(tmp_path: Path, monkeypatch) -> None:
    sst2 = require_llm_extra_and_sst2()
    for name, value in {"MAX_STEPS": 2, "EVAL_EVERY": 2, "TRAIN_SENTENCES": 32, "EVAL_SENTENCES": 8}.items():
        monkeypatch.setattr(lora_runs, name, value)
    monkeypatch.setattr(lora_runs, "DATA_DIR", tmp_path)
    out = tmp_path / "timing.json"
    assert lora_runs.main(["time", "--configs", "4", "--data", str(sst2), "--out", str(out)]) == 0
    timing = json.loads(out.read_text())
    assert timing["protocol"]["max_steps"] == 2 and [r["config"] for r in timing["runs"]] == [4]
    assert timing["runs"][0]["seconds"] > 0 and timing["runs"][0]["batch_size"] == 8
    assert lora_runs.read_rows(tmp_path) == []


def test_summary_counts_the_runs_that_learned_per_optimizer() -> None:
    def row(config: int, optim: str, final: float | None, status: str = "ok") -> dict:
        return {
            "config": config,
            "seed": 0,
            "params": {"optim": optim},
            "final": final,
            "status": status,
            "seconds": 10.0,
        }

    rows = [
        row(0, "sgd", 0.69),
        row(1, "sgd", 0.5),
        row(2, "adamw_torch", None, "diverged"),
        row(3, "adamw_torch", 0.45),
    ]
    lines = list(lora_runs.summary(rows))
    assert lines[0] == "4 runs of 4 configurations; status: {'ok': 3, 'diverged': 1}"
    assert "  sgd: 2 runs, 1 learned, 0 not ok, best 0.500" in lines
    assert "  adamw_torch: 2 runs, 1 learned, 1 not ok, best 0.450" in lines
