"""The ``cascaderl-optuna`` command: real training runs on a temporary SQLite file.

Each ``optimize`` here trains the digits MLP for real (about a second a trial), with few trials
and one evaluation seed so the file stays fast.
"""

from __future__ import annotations

from optional_extras import require_cli_extra


require_cli_extra()


import importlib.util
import json
import math
from pathlib import Path
import socket
import subprocess
import sys
import time
import urllib.request

import optuna
from optuna.trial import TrialState
import pytest
from rich.console import Console

from cascaderl_optuna._cascade.records import PolicyDiagnostics
from cascaderl_optuna.cli.app import COLUMNS
from cascaderl_optuna.cli.app import main
from cascaderl_optuna.cli.live_view import format_value
from tests.test_cli_terminal import assert_rows_show_whole_values
from tests.test_cli_terminal import legend
from tests.test_cli_terminal import row_lines


def _run(argv: list[str]) -> tuple[int, str]:
    console = Console(record=True, width=220, force_terminal=False, color_system=None)
    rc = main(argv, console=console)
    return rc, console.export_text()


def _rows(text: str) -> dict[int, list[str]]:
    """The first line of each row of the live table, split into cells, by trial number."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == len(COLUMNS) and cells[0].isdigit():
            rows[int(cells[0])] = cells
    return rows


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One real run: 6 trials of the cascade (3 space-filling), report with one evaluation seed."""
    tmp = tmp_path_factory.mktemp("cli")
    storage = f"sqlite:///{tmp / 'study.db'}"
    args = [
        "optimize",
        "--task",
        "digits_mlp",
        "--storage",
        storage,
        "--study-name",
        "s",
        "--seed",
        "0",
        "--startup-trials",
        "3",
        "--eval-seeds",
        "1",
        "--reports",
        str(tmp / "reports"),
    ]
    tensorboard = ["--tensorboard", str(tmp / "tb")] if importlib.util.find_spec("tensorboard") else []
    rc, text = _run([*args, "--trials", "6", *tensorboard])
    return {
        "tmp": tmp,
        "storage": storage,
        "args": args,
        "rc": rc,
        "text": text,
        "trials": optuna.load_study(study_name="s", storage=storage).trials,
    }


@pytest.mark.slow  # real training runs of the command
def test_optimize_stores_the_trials_and_shows_the_live_table(first_run) -> None:
    assert first_run["rc"] == 0, first_run["text"]
    trials = first_run["trials"]
    assert len(trials) == 6
    text = first_run["text"]
    header = next(line for line in text.splitlines() if "┃" in line and "p(strategy)" in line)
    for column in COLUMNS:
        assert column in header
    assert "strategy = optimizer / scheduler / dropout" in text
    assert "6/6" in text  # the progress bar
    rows = _rows(text)
    assert sorted(rows) == [t.number for t in trials]
    # Off a terminal each trial is also one log line, printed when it finishes, in that order.
    assert [x.split(" | ")[0] for x in text.splitlines() if x.startswith("trial ")] == [
        f"trial {t.number}" for t in trials
    ]
    index = {c: i for i, c in enumerate(COLUMNS)}
    for t in trials:
        cells = rows[t.number]
        assert cells[index["state"]].split(":")[0].split(" ")[0] == t.state.name
        assert cells[index["strategy"]] == " / ".join(
            f"{t.params[n]:.3g}" if isinstance(t.params[n], float) else str(t.params[n])
            for n in ("optimizer", "scheduler", "dropout")
        )
        if t.state == TrialState.COMPLETE:
            assert cells[index["value"]] == f"{t.value:.3g}"
        policy = PolicyDiagnostics.read(t)
        if t.number < 3:
            assert policy is None and cells[index["p(strategy)"]] == "" and cells[index["entropy"]] == ""
        else:
            p = math.prod(
                policy.probs[n][list(t.distributions[n].choices).index(t.params[n])]
                if n != "dropout"
                else policy.probs[n][round(t.params[n] / 0.15)]
                for n in ("optimizer", "scheduler", "dropout")
            )
            assert cells[index["p(strategy)"]] == f"{p:.3f}"
            assert cells[index["entropy"]] == f"{policy.entropy:.3g}"
    best = min(t.value for t in trials if t.state == TrialState.COMPLETE)
    assert rows[trials[-1].number][index["best"]] == f"{best:.3g}"


@pytest.mark.slow  # real training runs of the command
def test_optimize_writes_the_before_after_report(first_run) -> None:
    reports = first_run["tmp"] / "reports"
    study = optuna.load_study(study_name="s", storage=first_run["storage"])
    report = json.loads((reports / "evaluation.json").read_text())
    assert report["task"] == "digits_mlp" and report["n_trials"] == 6
    assert report["best"]["trial"] == study.best_trial.number
    assert report["best"]["value"] == pytest.approx(study.best_value)
    assert report["best"]["params"] == study.best_params  # the configuration evaluated is the best found
    assert report["default"]["params"]["optimizer"] == "adamw" and "momentum" not in report["default"]["params"]
    for side in ("default", "best"):
        for metric in ("test_loss", "test_accuracy"):
            assert math.isfinite(report[side]["test"][metric])
        assert len(report[side]["test_per_seed"]) == 1
    assert report["improvement"]["test_loss"] == pytest.approx(
        report["default"]["test"]["test_loss"] - report["best"]["test"]["test_loss"]
    )
    summary = (reports / "summary.md").read_text()
    assert f"best found (trial {study.best_trial.number})" in summary
    assert f"{report['best']['test']['test_loss']:.4g}" in summary
    assert "test_loss" in (reports / "summary.html").read_text()
    tree = (reports / "cascade_tree.html").read_text()
    labels = json.loads(tree.split('"labels":', 1)[1].split("]", 1)[0] + "]")  # the icicle's box labels
    for t in study.trials:
        assert f"optimizer={t.params['optimizer']}" in labels
        assert f"scheduler={t.params['scheduler']}" in labels
    for name in ("optimization_history.html", "training_curves.html", "strategy_history.html"):
        html = (reports / name).read_text()
        assert 'src="plotly.min.js"' in html, name
    assert (reports / "plotly.min.js").stat().st_size > 100_000
    curves = (reports / "training_curves.html").read_text()
    assert "default (seed 0)" in curves and "best (seed 0)" in curves


@pytest.mark.slow  # real training runs of the command
def test_optimize_saves_the_cascade_figures_for_optuna_dashboard(first_run) -> None:
    from cascaderl_optuna.integrations.dashboard import CASCADE_TREE_ID
    from cascaderl_optuna.integrations.dashboard import STRATEGY_HISTORY_ID

    study = optuna.load_study(study_name="s", storage=first_run["storage"])
    attrs = study._storage.get_study_system_attrs(study._study_id)
    for graph_id in (CASCADE_TREE_ID, STRATEGY_HISTORY_ID):
        assert any(graph_id in key for key in attrs), sorted(attrs)


@pytest.mark.slow  # real training runs of the command
def test_optimize_logs_to_tensorboard_when_asked(first_run) -> None:
    pytest.importorskip("tensorboard", reason="needs the logging extra: pip install '.[logging]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(first_run["tmp"] / "tb"))
    acc.Reload()
    complete = {t.number: t.value for t in first_run["trials"] if t.state == TrialState.COMPLETE}
    assert {e.step: e.value for e in acc.Scalars("charts/value")} == pytest.approx(complete)
    assert [e.step for e in acc.Scalars("charts/entropy")] == [3, 4, 5]


@pytest.mark.slow  # real training runs of the command
def test_optimize_again_resumes_the_stored_study(first_run) -> None:
    before = first_run["trials"]
    rc, text = _run([*first_run["args"], "--trials", "2", "--reports", "none"])
    assert rc == 0, text
    assert "Resuming study s" in text and "(6 trials stored)" in text
    after = optuna.load_study(study_name="s", storage=first_run["storage"]).trials
    assert len(after) == 8
    assert [(t.number, t.params, t.state, t.value) for t in after[:6]] == [
        (t.number, t.params, t.state, t.value) for t in before
    ]
    assert sorted(_rows(text)) == [6, 7]


@pytest.mark.slow  # real training runs of the command
def test_diverging_trials_fail_with_a_reason_and_the_study_goes_on(tmp_path) -> None:
    space = tmp_path / "explode.yaml"
    space.write_text(
        "parameters:\n"
        "  optimizer: {role: strategic, type: categorical, choices: [sgd]}\n"
        "  learning_rate: {role: tactical, type: float, low: 50.0, high: 100.0}\n"
        "  momentum: {role: tactical, type: float, low: 0.95, high: 0.99}\n"
        "  clip_norm: {role: tactical, type: float, low: 1.0e+5, high: 1.0e+6}\n"
    )
    storage = f"sqlite:///{tmp_path / 'x.db'}"
    rc, text = _run(
        [
            "optimize",
            "--trials",
            "2",
            "--storage",
            storage,
            "--space",
            str(space),
            "--sampler",
            "random",
            "--seed",
            "1",
            "--eval-seeds",
            "1",
            "--reports",
            str(tmp_path / "r"),
        ]
    )
    assert rc == 0, text
    trials = optuna.load_study(study_name="digits_mlp-random", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    for t in trials:
        assert "diverged" in t.user_attrs["fail_reason"] or "nan" in t.user_attrs["fail_reason"]
        assert _rows(text)[t.number][1].startswith("FAIL: ")
    report = json.loads((tmp_path / "r" / "evaluation.json").read_text())
    assert report["best"] is None and math.isfinite(report["default"]["test"]["test_loss"])
    assert "No trial completed" in (tmp_path / "r" / "summary.md").read_text()


@pytest.mark.slow  # real training runs of the command
def test_other_samplers_and_the_default_storage(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rc, text = _run(["optimize", "--trials", "2", "--sampler", "gp", "--seed", "0", "--reports", "none"])
    assert rc == 0, text
    assert (tmp_path / "cascaderl.db").exists()  # sqlite:///cascaderl.db, in the working directory
    study = optuna.load_study(study_name="digits_mlp-gp", storage="sqlite:///cascaderl.db")
    assert len(study.trials) == 2
    # The same study name with another sampler is refused; nothing stored changes.
    rc, text = _run(
        ["optimize", "--trials", "1", "--study-name", "digits_mlp-gp", "--sampler", "tpe", "--reports", "none"]
    )
    assert rc == 2
    assert "created with sampler 'gp', not 'tpe'" in text and "--sampler gp" in text and "--study-name" in text
    assert len(optuna.load_study(study_name="digits_mlp-gp", storage="sqlite:///cascaderl.db").trials) == 2
    # ... and so is another search space.
    space = tmp_path / "small.yaml"
    space.write_text(
        "parameters:\n  learning_rate: {role: tactical, type: float, low: 1.0e-3, high: 1.0e-1, log: true}\n"
    )
    rc, text = _run(["optimize", "--trials", "1", "--sampler", "gp", "--space", str(space), "--reports", "none"])
    assert rc == 2 and "created with space" in text


@pytest.mark.parametrize(
    "argv,needles",
    [
        (["--task", "nope"], ["unknown task 'nope'", "digits_mlp"]),
        (["--trials", "0"], ["--trials must be at least 1"]),
        (["--storage", "notadb://x"], ["cannot open storage", "sqlite:///cascaderl.db"]),
        (["--data", "/nonexistent.csv"], ["--data /nonexistent.csv", ".csv", ".npz"]),
    ],
)
def test_bad_input_gets_a_clear_error(tmp_path, monkeypatch, argv: list[str], needles: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    base = ["optimize", "--trials", "1", "--reports", "none"]
    rc, text = _run([*base, *argv])
    assert rc == 2
    assert text.startswith("error: ")
    for needle in needles:
        assert needle in text, text


def test_bad_space_files_are_refused_before_anything_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters:\n  learning_rate:\n    role: tactical\n    type: float\n    low: 1.0\n    high: 0.1\n")
    rc, text = _run(["optimize", "--trials", "1", "--space", str(bad)])
    assert rc == 2 and f"{bad}:6:" in text and "must be greater than low" in text
    alien = tmp_path / "alien.yaml"
    alien.write_text("parameters:\n  lora_rank: {role: strategic, type: int, low: 4, high: 64, log: true}\n")
    rc, text = _run(["optimize", "--trials", "1", "--space", str(alien)])
    assert rc == 2 and "'lora_rank' is not used by task 'digits_mlp'" in text
    unknown_choice = tmp_path / "lion.yaml"
    unknown_choice.write_text(
        "parameters:\n  optimizer: {role: strategic, type: categorical, choices: [adamw, lion]}\n"
    )
    rc, text = _run(["optimize", "--trials", "1", "--space", str(unknown_choice)])
    assert rc == 2 and "does not know the choices ['lion']" in text
    assert not (tmp_path / "cascaderl.db").exists() or not optuna.get_all_study_names("sqlite:///cascaderl.db")


@pytest.mark.slow  # real training runs of the command
def test_a_study_not_made_by_the_command_is_left_alone(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'other.db'}"
    other = optuna.create_study(study_name="mine", storage=storage)
    other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    rc, text = _run(["optimize", "--trials", "1", "--storage", storage, "--study-name", "mine", "--reports", "none"])
    assert rc == 2 and "was not created by `cascaderl-optuna optimize`" in text
    assert len(optuna.load_study(study_name="mine", storage=storage).trials) == 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # starts an optuna-dashboard server
def test_dashboard_serves_the_storage(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'dash.db'}"
    optuna.create_study(study_name="shown-here", storage=storage).optimize(
        lambda t: t.suggest_float("x", 0, 1), n_trials=2
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cascaderl_optuna.cli", "dashboard", "--storage", storage, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while body is None:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "optuna-dashboard did not answer within 60 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.3)
        assert [s["study_name"] for s in body["study_summaries"]] == ["shown-here"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dashboard_without_optuna_dashboard_prints_the_command(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    optuna.create_study(storage="sqlite:///my.db")  # the storage is checked first: it must exist
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # import optuna_dashboard -> ImportError
    rc, text = _run(["dashboard", "--storage", "sqlite:///my.db", "--port", "8081"])
    assert rc == 1
    assert "pip install 'cascaderl-optuna[dashboard]'" in text
    assert "optuna-dashboard sqlite:///my.db --host 127.0.0.1 --port 8081" in text


@pytest.mark.slow  # a fresh process for the console script
def test_console_script_is_installed() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "cascaderl-optuna"]
    assert script.value == "cascaderl_optuna.cli.app:main"
    exe = Path(sys.executable).parent / "cascaderl-optuna"
    out = subprocess.run([str(exe), "tasks"], capture_output=True, text=True, timeout=120, check=True)
    assert "digits_mlp" in out.stdout


def test_tasks_lists_each_task_with_its_description_and_extra(monkeypatch) -> None:
    from cascaderl_optuna.cli.tasks.digits_mlp import DigitsMLPTask
    from cascaderl_optuna.cli.tasks.text_classification import TextClassificationTask

    rc, text = _run(["tasks"])
    assert rc == 0
    lines = text.splitlines()
    (digits,) = [x for x in lines if x.startswith("digits_mlp ")]
    assert DigitsMLPTask.description in digits and "extra" not in digits
    (text_line,) = [x for x in lines if x.startswith("text_classification ")]
    assert TextClassificationTask.description in text_line and "[needs the llm extra" in text_line
    assert "cascaderl-optuna optimize --task digits_mlp" in text
    # Without the extra installed, the line says what to install.
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    rc, text = _run(["tasks"])
    assert "not installed: pip install 'cascaderl-optuna[llm]'" in text


@pytest.mark.slow  # real training runs of the command
def test_ctrl_c_keeps_the_finished_trials_and_still_reports(tmp_path, monkeypatch) -> None:
    import cascaderl_optuna.cli.tasks as tasks
    from cascaderl_optuna.cli.tasks.digits_mlp import DigitsMLPTask

    class Interrupted(DigitsMLPTask):
        name = "interrupted"

        def objective(self, trial, params):  # type: ignore[no-untyped-def]
            if trial.number == 2:
                raise KeyboardInterrupt  # what Ctrl+C raises inside the training loop
            return super().objective(trial, params)

    monkeypatch.setattr(tasks, "_REGISTRY", {"interrupted": lambda **kw: Interrupted(epochs=2, **kw)})
    storage = f"sqlite:///{tmp_path / 'i.db'}"
    rc, text = _run(
        [
            "optimize",
            "--task",
            "interrupted",
            "--trials",
            "5",
            "--storage",
            storage,
            "--eval-seeds",
            "1",
            "--reports",
            str(tmp_path / "r"),
        ]
    )
    assert rc == 130
    assert "Interrupted: writing the report" in text
    trials = optuna.load_study(study_name="interrupted-cascade", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    report = json.loads((tmp_path / "r" / "evaluation.json").read_text())
    assert report["n_trials"] == 3 and report["best"]["trial"] in (0, 1)


def test_console_off_a_terminal_takes_columns_or_does_not_wrap() -> None:
    import io

    from cascaderl_optuna.cli.app import make_console
    from cascaderl_optuna.cli.app import NON_TERMINAL_WIDTH

    piped = make_console(file=io.StringIO(), environ={"COLUMNS": "123"})
    assert not piped.is_terminal and piped.width == 123 and piped.soft_wrap
    assert make_console(file=io.StringIO(), environ={}).width == NON_TERMINAL_WIDTH
    assert make_console(file=io.StringIO(), environ={"COLUMNS": "wide"}).width == NON_TERMINAL_WIDTH
    out = io.StringIO()
    make_console(file=out, environ={"COLUMNS": "40"}).print("error: " + "word " * 30, markup=False)
    assert out.getvalue().count("\n") == 1  # a message stays one line


@pytest.mark.parametrize("columns", [None, "80"])
def test_piped_output_never_splits_a_parameter_assignment(tmp_path, columns: str | None) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    storage = f"sqlite:///{tmp_path / 'p.db'}"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cascaderl_optuna.cli",
            "optimize",
            "--trials",
            "3",
            "--storage",
            storage,
            "--sampler",
            "random",
            "--seed",
            "3",
            "--reports",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    study = optuna.load_study(study_name="digits_mlp-random", storage=storage)
    assert len(study.trials) == 3
    strategic = ("optimizer", "scheduler", "dropout")
    for t in study.trials:
        (line,) = [x for x in lines if x.startswith(f"trial {t.number} | ")]  # one log line per trial, in full
        assert f"value {t.value:.3g}" in line
        for name, value in t.params.items():
            text = f"{value:.3g}" if isinstance(value, float) else str(value)
            word = text if name in strategic else f"{name}={text}"
            assert word in line.replace("|", " ").split()
    best = study.best_trial
    assert any(x.startswith(f"Best: trial {best.number},") and x.endswith(f"{best.params}") for x in lines)
    # The final table: one line per trial, every value shown whole (never folded onto the next line).
    start = next(i for i, x in enumerate(lines) if x.strip().startswith("digits_mlp-random ("))
    end = next(i for i, x in enumerate(lines) if x.startswith("trials "))
    table = lines[start : end + 1]
    trials = {t.number: t for t in study.trials}
    rows = row_lines(table, trials)
    assert sorted(rows) == [0, 1, 2], out.stdout
    assert_rows_show_whole_values(rows, trials, legend(table))
    if columns == "80":  # the table keeps to COLUMNS
        assert max(len(x) for x in table) <= 80, out.stdout
    else:  # no COLUMNS: room for every parameter under its full name
        words = {w for x in table for w in x.replace("│", " ").split()}
        for t in study.trials:
            assert all(f"{n}={format_value(v)}" in words for n, v in t.params.items() if n not in strategic)


@pytest.mark.parametrize(
    "storage,needles",
    [
        (
            "sqlite:///missing.db",
            ["missing.db does not exist", "cascaderl-optuna optimize --storage sqlite:///missing.db"],
        ),
        ("missing.db", ["not a storage URL", "--storage sqlite:///missing.db"]),
        ("sqlite:///no_folder/x.db", ["no_folder does not exist"]),
        ("sqlite:///:memory:", ["in-memory", "Name a file"]),
    ],
)
def test_dashboard_on_a_missing_or_wrong_storage_says_what_to_do_and_creates_nothing(
    tmp_path, monkeypatch, storage: str, needles: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rc, text = _run(["dashboard", "--storage", storage])
    assert rc == 2 and text.startswith("error: ")
    for needle in needles:
        assert needle in text, text
    assert list(tmp_path.iterdir()) == []  # no empty database left behind
    rc, text = _run(["dashboard", "--port", "70000"])
    assert rc == 2 and "--port must be between 1 and 65535" in text


def test_files_that_are_not_optuna_storages_are_left_as_they_are(tmp_path, monkeypatch) -> None:
    import sqlite3

    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    before = other.read_bytes()
    for command in (["optimize", "--trials", "1", "--reports", "none"], ["dashboard"]):
        rc, text = _run([*command, "--storage", "sqlite:///other.db"])
        assert rc == 2 and "not an Optuna storage" in text and "left as it is" in text, text
    (tmp_path / "text.db").write_text("not a database\n")
    rc, text = _run(["optimize", "--trials", "1", "--reports", "none", "--storage", "sqlite:///text.db"])
    assert rc == 2 and "is not an SQLite database" in text
    assert other.read_bytes() == before and (tmp_path / "text.db").read_text() == "not a database\n"
    # A report folder that is a file is refused before any trial runs.
    (tmp_path / "reports").write_text("a file\n")
    rc, text = _run(["optimize", "--trials", "1", "--storage", "sqlite:///new.db"])
    assert rc == 2 and "--reports reports: a file of that name exists" in text
    assert not (tmp_path / "new.db").exists()


def test_a_memory_budget_stores_configurations_that_do_not_fit_as_infeasible(tmp_path) -> None:
    """``--memory-budget``: every trial carries the constraint; a configuration whose first step needs more is
    COMPLETE and infeasible (its reason, the uniform predictor's loss), never the best; the budget is part of the
    experiment, so resuming with another one is refused and nothing stored changes."""
    storage = f"sqlite:///{tmp_path / 'm.db'}"
    base = ["optimize", "--storage", storage, "--sampler", "random", "--seed", "3", "--reports", "none"]
    rc, text = _run([*base, "--trials", "10", "--memory-budget", "200KiB", "--pruner", "none"])
    assert rc == 0, text
    study = optuna.load_study(study_name="digits_mlp-random", storage=storage)
    budget = 200 / 2**20
    infeasible, feasible = [], []
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        excess = t.constraints["memory_over_budget_gib"]
        assert excess == pytest.approx(t.user_attrs["memory_gib"] - budget)
        (infeasible if excess > 0 else feasible).append(t)
    assert infeasible and feasible, [t.params["batch_size"] for t in study.trials]
    for a in study.trials:  # what needs the memory: the batch (and the optimizer's state, dropout's masks)
        for b in study.trials:
            same = all(a.params[k] == b.params[k] for k in ("optimizer", "dropout"))
            if same and a.params["batch_size"] < b.params["batch_size"]:
                assert a.user_attrs["memory_gib"] < b.user_attrs["memory_gib"]
    for t in infeasible:
        assert t.value == pytest.approx(math.log(10)) and "out of memory" in t.user_attrs["infeasible_reason"]
        (line,) = [x for x in text.splitlines() if x.startswith(f"trial {t.number} | ")]
        assert line.split(" | ")[1].startswith("INFEASIBLE: out of memory")  # the log line has the reason
        assert _rows(text)[t.number][1].startswith("INFEASIBLE")  # the table, at least its start
    assert study.best_trial in feasible
    # Another budget (or none) is another experiment.
    for other in (["--memory-budget", "1GiB"], []):
        rc, text = _run([*base, "--trials", "1", *other])
        assert rc == 2 and "memory_budget_gib" in text and "--memory-budget 0.000190734" in text, text
    assert len(optuna.load_study(study_name="digits_mlp-random", storage=storage).trials) == 10
    rc, text = _run([*base, "--trials", "1", "--memory-budget", "lots"])
    assert rc == 2 and "--memory-budget 'lots'" in text and "512MiB" in text


def test_warm_start_opens_with_the_earlier_study_s_best_configurations_and_is_part_of_the_experiment(
    tmp_path,
) -> None:
    storage = f"sqlite:///{tmp_path / 'w.db'}"
    base = ["optimize", "--storage", storage, "--reports", "none", "--pruner", "none"]
    rc, text = _run([*base, "--trials", "8", "--sampler", "random", "--seed", "0", "--study-name", "old"])
    assert rc == 0, text
    old = optuna.load_study(study_name="old", storage=storage)
    rc, text = _run([*base, "--trials", "4", "--seed", "1", "--study-name", "new", "--warm-start", "old"])
    assert rc == 0, text
    new = optuna.load_study(study_name="new", storage=storage).trials
    best_first = sorted(old.trials, key=lambda t: t.value)
    assert new[0].params == best_first[0].params  # the earlier best, evaluated anew
    assert all(any(t.params == o.params for o in old.trials) for t in new[:2])
    assert len(optuna.load_study(study_name="old", storage=storage).trials) == 8  # the earlier study is untouched
    # Resuming without it is another experiment; a study that is not there, or is the study itself, is refused.
    rc, text = _run([*base, "--trials", "1", "--study-name", "new"])
    assert rc == 2 and "--warm-start old --warm-start-storage" in text
    for argv, needle in (
        (["--study-name", "other", "--warm-start", "nope"], "has no study of that name; it has new, old"),
        (["--study-name", "old", "--warm-start", "old"], "that is the study being run"),
        (["--study-name", "tpe", "--sampler", "tpe", "--warm-start", "old"], "--sampler cascade"),
    ):
        rc, text = _run([*base, "--trials", "1", *argv])
        assert rc == 2 and needle in text, text
    assert sorted(optuna.get_all_study_names(storage)) == ["new", "old"]  # nothing created by a refused run
