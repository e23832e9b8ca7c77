"""TensorBoard and W&B callbacks, read back with each library's own reader.

The expected numbers are computed here from the stored trials (values, running best, the
sampler's ``cascade:policy`` records), not by the code under test.
"""

from __future__ import annotations

import glob
import json
import math
import os
import struct
import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.records import PolicyDiagnostics


CHOICES = ("adamw", "sgd", "adafactor")


def _objective(trial: optuna.Trial) -> float:
    opt = trial.suggest_categorical("optimizer", CHOICES)
    lr = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
    width = trial.suggest_int("width", 16, 128, log=True)
    if opt == "sgd":
        trial.suggest_float("momentum", 0.0, 0.99)
    if trial.number == 5:
        raise RuntimeError("diverged")  # a FAIL trial (caught below)
    trial.report(1.0, 0)
    if trial.number == 7:
        raise optuna.TrialPruned()
    best = {"adamw": 3e-3, "sgd": 0.1, "adafactor": 1e-2}[opt]
    return (math.log10(lr) - math.log10(best)) ** 2 + CHOICES.index(opt) * 0.2 + width / 1000


def _run(callback, n_trials: int = 12) -> optuna.Study:
    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=4))
    study.optimize(_objective, n_trials=n_trials, callbacks=[callback], catch=(RuntimeError,))
    return study


def _expected(study: optuna.Study) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` the loggers must have written, from the storage alone."""
    out: dict[str, dict[int, float]] = {}

    def put(tag: str, step: int, value: float) -> None:
        out.setdefault(tag, {})[step] = float(value)

    best = math.inf
    for t in study.trials:
        if t.state == TrialState.COMPLETE:
            put("charts/value", t.number, t.value)
            best = min(best, t.value)
        if best < math.inf:
            put("charts/best_value", t.number, best)
        put("charts/pruned", t.number, t.state == TrialState.PRUNED)
        put("charts/failed", t.number, t.state == TrialState.FAIL)
        put("charts/strategy/optimizer", t.number, CHOICES.index(t.params["optimizer"]))
        for name in ("learning_rate", "width", "momentum"):
            if name in t.params:
                put(f"params/{name}", t.number, t.params[name])
        policy = PolicyDiagnostics.read(t)
        if policy is None:
            continue
        probs = policy.probs["optimizer"]
        for choice, p in zip(CHOICES, probs):
            put(f"charts/probs/optimizer/{choice}", t.number, p)
        put("charts/strategy_probability", t.number, probs[CHOICES.index(t.params["optimizer"])])
        put("charts/entropy", t.number, policy.entropy)
        for level, stats in (("high_level", policy.high_level), ("low_level", policy.low_level)):
            for k, v in stats.items():
                put(f"losses/{level}/{k}", t.number, v)
    return out


def _check(written: dict[str, dict[int, float]], study: optuna.Study) -> None:
    expected = _expected(study)
    # Sanity of the planted study: every kind of trial, and policy records from trial 4 on.
    states = {t.state for t in study.trials}
    assert {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL} <= states
    assert set(expected["charts/entropy"]) == {t.number for t in study.trials if t.number >= 4}
    for tag in (
        "losses/high_level/pg_loss",
        "losses/high_level/approx_kl",
        "losses/low_level/pg_loss",
        "losses/low_level/clipfrac",
        "losses/low_level/mean_std",
        "charts/probs/optimizer/sgd",
    ):
        assert tag in expected
    assert set(written) == set(expected), set(written) ^ set(expected)
    for tag, points in expected.items():
        assert set(written[tag]) == set(points), tag
        for step, value in points.items():
            assert written[tag][step] == pytest.approx(value, rel=1e-5, abs=1e-6), (tag, step)


def test_tensorboard_event_file_holds_each_trial_at_its_number(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from cascaderl_optuna.integrations.loggers import TensorBoardCallback

    with TensorBoardCallback(tmp_path / "tb") as tb:
        study = _run(tb)
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    written = {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}
    _check(written, study)
    texts = {e.step: e.tensor_proto.string_val[0].decode() for e in acc.Tensors("strategy/text_summary")}
    assert texts == {t.number: f"optimizer={t.params['optimizer']}" for t in study.trials}


def _wandb_records(path: str):  # type: ignore[no-untyped-def]
    """The records of an offline run's ``.wandb`` file, parsed with wandb's own protobuf classes.

    The file is a LevelDB-style log (wandb's transaction log): a 7-byte header (``:W&B``, magic,
    version), then 32 KiB blocks of records, each with a 7-byte header (CRC32, length, type:
    1 full, 2 first, 3 middle, 4 last).
    """
    from wandb.proto import wandb_internal_pb2

    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending + chunk)
            pending = b""
            yield record
        else:
            pending += chunk


@pytest.mark.slow  # a real W&B offline run
def test_wandb_offline_run_holds_each_trial_at_its_number(tmp_path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    from cascaderl_optuna.integrations.loggers import WandbCallback

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    wb = WandbCallback(project="cascade-test", name="planted")
    study = _run(wb)
    wb.finish()
    files = glob.glob(str(tmp_path / "wandb" / "offline-run-*" / "run-*.wandb"))
    assert len(files) == 1
    # wandb-core writes the file in the background: finish() can return before the last records
    # (the run's "exit" record) are on disk. Wait for them, boundedly.
    deadline = time.monotonic() + 60
    while not any(r.WhichOneof("record_type") == "exit" for r in _wandb_records(files[0])):
        assert time.monotonic() < deadline, "the offline run never got its exit record"
        time.sleep(0.2)
    history, summary, tables = [], {}, []
    for record in _wandb_records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in record.history.item}
            (tables if "strategies/_type" in row else history).append(row)
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    assert [row["trial"] for row in history] == [t.number for t in study.trials]
    written: dict[str, dict[int, float]] = {}
    for row in history:
        for tag, value in row.items():
            if tag not in ("trial", "_step", "_timestamp", "_runtime"):
                written.setdefault(tag, {})[row["trial"]] = value
    _check(written, study)
    assert summary["best_value"] == pytest.approx(study.best_value)
    assert summary["best_trial"] == study.best_trial.number
    assert summary["best_params"] == study.best_params
    assert len(tables) == 1
    assert tables[0]["strategies/_type"] == "table-file"
    assert tables[0]["strategies/nrows"] == len(study.trials)
    run_dir = os.path.dirname(files[0])
    with open(os.path.join(run_dir, "files", tables[0]["strategies/path"])) as f:
        table = json.load(f)
    assert table["columns"] == ["trial", "strategy", "state"]
    assert table["data"] == [[t.number, f"optimizer={t.params['optimizer']}", t.state.name] for t in study.trials]


def test_missing_extras_say_what_to_install(monkeypatch, tmp_path) -> None:
    from cascaderl_optuna.integrations.loggers import TensorBoardCallback
    from cascaderl_optuna.integrations.loggers import WandbCallback

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r"pip install cascaderl-optuna\[logging\]"):
        TensorBoardCallback(tmp_path)
    with pytest.raises(ImportError, match=r"pip install cascaderl-optuna\[logging\]"):
        WandbCallback(project="p")


def test_importing_the_package_needs_no_optional_extra() -> None:
    code = (
        "import sys, cascaderl_optuna; "
        "print(sorted(m for m in ('yaml', 'wandb', 'tensorboard', 'rich', 'sklearn', 'optuna_dashboard') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
