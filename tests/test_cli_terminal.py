"""The live view of ``cascaderl-optuna optimize`` as a person sees it.

``test_the_live_view_fits_a_real_terminal`` runs a short real ``optimize`` in a tmux pane of a
standard size and reads the screen back (``tmux capture-pane``): no line wider than the pane, no
value folded onto the next line, the progress bar and the newest trial on the last live screen, and
the final table within the width. The other tests draw the table on a Rich console of a given size,
from trials made up on the spot (no training).
"""

from __future__ import annotations

from optional_extras import require_cli_extra


require_cli_extra()


import io
import os
from pathlib import Path
import re
import shlex
import shutil
import subprocess
import sys
import time

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import TrialState
import pytest
from rich.console import Console

from cascaderl_optuna.cli.live_view import abbreviate
from cascaderl_optuna.cli.live_view import format_value
from cascaderl_optuna.cli.live_view import LiveTable


STRATEGIC = ("optimizer", "scheduler", "dropout")
PROGRESS = re.compile(r"^trials .*\b(\d+)/(\d+)\b")
DONE = "OPTIMIZE-EXITED"
STATES = ("COMPLETE", "PRUNED", "FAIL", "INFEASIBLE")


# -- reading a screen ----------------------------------------------------------------------------
def legend(lines: list[str]) -> dict[str, str]:
    """``{short name: parameter}`` from the caption's ``lr=learning_rate`` words."""
    return {a: b for line in lines for a, b in re.findall(r"(?:^|\s)(\w+)=([a-z_]+)(?=\s|$)", line)}


def row_lines(lines: list[str], trials: dict[int, optuna.trial.FrozenTrial]) -> dict[int, str]:
    """The table's line of each trial shown, by trial number (the first cell is the number)."""
    rows = {}
    for line in lines:
        cells = line.replace("│", " ").split()
        if cells and cells[0].isdigit() and int(cells[0]) in trials and any(s in line for s in STATES):
            rows[int(cells[0])] = line
    return rows


def assert_rows_show_whole_values(rows: dict[int, str], trials: dict, names: dict[str, str]) -> None:
    """Each row holds its trial's strategy and the ``name=value`` pairs it shows, all whole and right."""
    for number, line in rows.items():
        t = trials[number]
        strategy = " / ".join(format_value(t.params[n]) for n in STRATEGIC)
        assert strategy in line, (strategy, line)
        pairs = re.findall(r"(\w+)=(\S+)", line)
        assert pairs, line  # at least one tactical value fits at 80 columns
        for short, value in pairs:
            name = names.get(short, short)
            assert name in t.params, (short, line)
            assert value in (format_value(t.params[name]), format_value(t.params[name]) + "…"), (name, value, line)


# -- a real terminal -----------------------------------------------------------------------------
@pytest.mark.slow  # real training runs of the command, in tmux
@pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux for a real pseudo-terminal (scripts/install_system_deps.sh)"
)
@pytest.mark.parametrize("width,height,n_trials", [(80, 24, 17), (120, 40, 6)])
def test_the_live_view_fits_a_real_terminal(tmp_path: Path, width: int, height: int, n_trials: int) -> None:
    exe = Path(sys.executable).parent / "cascaderl-optuna"
    command = (
        f"env -u COLUMNS -u LINES {shlex.quote(str(exe))} optimize --trials {n_trials} --sampler random --seed 0 "
        f"--pruner none --reports none --storage sqlite:///s.db; echo {DONE}; sleep 600"
    )
    tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "cli", "-x", str(width), "-y", str(height), "-c", str(tmp_path), command],
        check=True,
        env=env,
    )
    try:
        last_live: list[str] = []
        deadline = time.monotonic() + 900
        while True:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-t", "cli"], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if any(line.startswith(DONE) for line in screen):
                break
            if any(" trials in " in line for line in screen):  # the live view has stopped
                time.sleep(0.2)
                continue
            if any(PROGRESS.match(line) for line in screen):
                last_live = screen
            assert time.monotonic() < deadline, "\n".join(screen)
            time.sleep(0.2)
        history = subprocess.run(
            [*tmux, "capture-pane", "-p", "-J", "-S", "-", "-t", "cli"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)

    study = optuna.load_study(study_name="digits_mlp-random", storage=f"sqlite:///{tmp_path / 's.db'}")
    trials = {t.number: t for t in study.trials}
    assert len(trials) == n_trials, "\n".join(history)
    # -J joins a line the terminal wrapped: a line longer than the pane would show here.
    assert max(len(line) for line in history) <= width, "\n".join(history)

    # The last live screen: the progress bar, and the newest trial finished so far.
    assert last_live, "\n".join(history)
    (done,) = [int(m.group(1)) for m in map(PROGRESS.match, last_live) if m]
    rows = row_lines(last_live, trials)
    assert done - 1 in rows, "\n".join(last_live)  # the newest trial (a new study numbers them 0, 1, ...)
    assert sorted(rows) == list(range(min(rows), done)), "\n".join(last_live)  # the newest, none missing
    assert_rows_show_whole_values(rows, trials, legend(last_live))

    # The final table: every trial up to the row limit, one line each, values whole.
    end = max(i for i, line in enumerate(history) if PROGRESS.match(line))
    start = max(i for i, line in enumerate(history[:end]) if "digits_mlp-random (" in line)
    final = history[start : end + 1]
    rows = row_lines(final, trials)
    assert sorted(rows) == list(range(max(0, n_trials - 15), n_trials)), "\n".join(final)
    assert_rows_show_whole_values(rows, trials, legend(final))
    assert f"{n_trials}/{n_trials}" in final[-1]


# -- the table on a console of a given size ---------------------------------------------------------
def _study_with_trials(n: int) -> optuna.Study:
    """A study of ``n`` made-up finished trials with the digits task's long parameter names."""
    study = optuna.create_study()
    dists = {
        "optimizer": CategoricalDistribution(["adamw", "sgd", "adafactor"]),
        "scheduler": CategoricalDistribution(["cosine", "warmup_cosine", "constant_warmup"]),
        "dropout": CategoricalDistribution([0.0, 0.15, 0.3]),
        "learning_rate": FloatDistribution(1e-5, 1.0, log=True),
        "warmup_ratio": FloatDistribution(0.0, 0.3),
        "weight_decay": FloatDistribution(1e-6, 0.1, log=True),
        "clip_norm": FloatDistribution(0.1, 10.0, log=True),
        "batch_size": IntDistribution(16, 256),
    }
    for i in range(n):
        params = {
            "optimizer": ("adamw", "sgd", "adafactor")[i % 3],
            "scheduler": ("cosine", "warmup_cosine", "constant_warmup")[i % 3],
            "dropout": (0.0, 0.15, 0.3)[i % 3],
            "learning_rate": 0.000241 * (i + 1),
            "warmup_ratio": 0.0613,
            "weight_decay": 0.000636,
            "clip_norm": 0.689,
            "batch_size": 16 + i,
        }
        state = TrialState.PRUNED if i % 4 == 3 else TrialState.COMPLETE
        value = 1.0 / (i + 1) if state == TrialState.COMPLETE else None
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value, state=state))
    return study


def _draw(study: optuna.Study, width: int, height: int, terminal: bool) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, height=height, force_terminal=terminal, color_system=None)
    table = LiveTable(console, len(study.trials), STRATEGIC, title="s (validation cross-entropy, minimize)")
    for t in study.trials:
        table(study, t)
    console.print(table.render())
    lines = out.getvalue().splitlines()
    return lines[len(study.trials) :] if not terminal else lines  # off a terminal: the log lines come first


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_table_fits_the_width_with_whole_values(width: int) -> None:
    study = _study_with_trials(12)
    lines = _draw(study, width, 40, terminal=False)
    assert max(len(line) for line in lines) <= width, "\n".join(lines)
    trials = {t.number: t for t in study.trials}
    rows = row_lines(lines, trials)
    assert sorted(rows) == list(range(12)), "\n".join(lines)
    assert_rows_show_whole_values(rows, trials, legend(lines))
    if width >= 200:  # room for everything: the full names, the policy columns
        assert "learning_rate=" in "\n".join(lines) and "entropy" in "\n".join(lines)


@pytest.mark.parametrize("height", [12, 24])
def test_a_short_terminal_keeps_the_newest_trials_and_the_progress_bar(height: int) -> None:
    study = _study_with_trials(20)
    lines = _draw(study, 80, height, terminal=True)
    assert len(lines) <= height - 1, "\n".join(lines)
    trials = {t.number: t for t in study.trials}
    rows = row_lines(lines, trials)
    assert max(rows) == 19 and sorted(rows) == list(range(min(rows), 20)), "\n".join(lines)
    assert PROGRESS.match(lines[-1]) and "20/20" in lines[-1], "\n".join(lines)


def test_short_names_are_distinct_and_never_change() -> None:
    names = abbreviate(["learning_rate", "weight_decay", "momentum", "batch_size"])
    assert names == {"learning_rate": "lr", "weight_decay": "wd", "momentum": "mom", "batch_size": "bs"}
    abbreviate(["lora_rank", "label_smoothing", "mom"], names)  # lr and mom are taken: longer or numbered
    assert names["learning_rate"] == "lr" and names["momentum"] == "mom"
    assert names["lora_rank"] == "lor" and names["label_smoothing"] == "ls" and names["mom"] == "mom2"
    assert len(set(names.values())) == len(names)
