"""The ``cascaderl-optuna`` command: tune a task, watch it live, get a report, open the dashboard.

::

    cascaderl-optuna optimize --task digits_mlp --trials 30
    cascaderl-optuna dashboard                      # optuna-dashboard on sqlite:///cascaderl.db
    cascaderl-optuna tasks                          # the tasks that can be tuned

``optimize`` runs the study in a storage (an embedded SQLite file by default, so optuna-dashboard
can open it), shows a live table of the trials (strategy, key values, value, best so far, the
policy's probability of the strategy it chose, its entropy) with a progress bar, and writes the
report folder (:mod:`cascaderl_optuna.cli.reports`). The table fits the terminal, one line per
trial, by abbreviating, cutting and dropping what matters least (:mod:`cascaderl_optuna.cli.live_view`).
Through a pipe or into a CI log, where nothing can redraw, each trial is instead printed as one
line when it finishes and the table once at the end (``COLUMNS`` sets its width; see
:func:`make_console`). Running it
again with the same study name adds trials to the stored study; it never overwrites one. The study remembers the
task, the sampler and
the search space it was created with, and refuses to continue with different ones (their trials
would not be comparable): pick another ``--study-name`` for that.

The command needs the ``cli`` extra (``pip install cascaderl-optuna[cli]``: rich, PyYAML,
scikit-learn); ``--tensorboard``/``--wandb`` need the ``logging`` extra, ``dashboard`` the
``dashboard`` extra.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import hashlib
import json
import os
import shlex
import sys
import time
from typing import Any
import warnings

import optuna
from optuna.study import Study
from optuna.trial import TrialState

from cascaderl_optuna.cli.live_view import COLUMNS as COLUMNS  # the table's columns, for callers
from cascaderl_optuna.cli.live_view import LiveTable


DEFAULT_STORAGE = "sqlite:///cascaderl.db"
SAMPLERS = ("cascade", "tpe", "random", "gp")
PRUNERS = ("median", "none")
ATTR_PREFIX = "cascaderl_cli:"
"""Study user attrs with which ``optimize`` checks that a resumed study is the same experiment."""
NON_TERMINAL_WIDTH = 1000
"""Line width of output that goes to a pipe, a file or a CI log when ``COLUMNS`` is not set."""


class CliError(Exception):
    """Bad input to the command line: printed as one clear message, exit status 2."""


# -- building the study ----------------------------------------------------------------------------
def make_sampler(
    name: str,
    seed: int | None,
    strategic_params: Sequence[str],
    n_startup_trials: int | None = None,
    warm_start: Study | None = None,
) -> optuna.samplers.BaseSampler:
    """The sampler named on the command line (``--sampler``), with the library's defaults."""
    startup: dict[str, Any] = {} if n_startup_trials is None else {"n_startup_trials": n_startup_trials}
    if warm_start is not None and name != "cascade":
        raise CliError(
            f"--warm-start is the cascade's (--sampler cascade); --sampler {name} has no prior to start from. "
            "Leave --warm-start out, or use --sampler cascade."
        )
    if name == "cascade":
        from cascaderl_optuna.sampler import CascadeSampler

        return CascadeSampler(seed=seed, strategic_params=tuple(strategic_params), warm_start=warm_start, **startup)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, **startup)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, **startup)
    raise CliError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}.")


def space_fingerprint(space: Any) -> str:
    """A hash of the space's parameters, roles, distributions and conditions."""
    text = json.dumps(
        [
            [p.name, p.role, repr(p.distribution), sorted((k, list(map(repr, v))) for k, v in p.when.items())]
            for p in space.parameters
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_storage(storage: str, *, must_exist: bool) -> None:
    """Refuse a storage URL that cannot be what the user meant, before anything opens it.

    Opening an SQLite URL creates the file (and Optuna's tables in it) when it is missing, so a
    mistyped path would leave an empty database behind and a read-only command would show
    nothing. Checked here, with what to do instead: a bare file name (``cascaderl.db``) is not a
    URL; a missing folder cannot hold a file; a missing file is an error where it must exist
    (``dashboard``); an SQLite file that exists but holds no Optuna tables is somebody else's
    data, which neither command writes into.

    Raises:
        CliError: with the fix, nothing created or changed.
    """
    from pathlib import Path

    if "://" not in storage:
        hint = f" For the SQLite file {storage}, write --storage sqlite:///{storage}." if storage else ""
        raise CliError(
            f"--storage {storage!r} is not a storage URL.{hint} Optuna storage URLs look like "
            "sqlite:///cascaderl.db (a file in this folder) or postgresql://user:pw@host/db."
        )
    if not storage.startswith("sqlite:"):
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(storage).database
    except ArgumentError as exc:
        raise CliError(
            f"--storage {storage!r} is not a valid URL ({exc}); write e.g. sqlite:///cascaderl.db."
        ) from None
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise CliError(
            f"--storage {storage!r} is an in-memory SQLite database: nothing in it outlives the "
            "command. Name a file: sqlite:///cascaderl.db."
        )
    path = Path(database)
    if not path.parent.is_dir():
        raise CliError(
            f"--storage {storage}: the folder {path.parent.resolve()} does not exist. Create it, or fix the "
            "path (sqlite:///name.db is relative to the current folder, sqlite:////abs/name.db absolute)."
        )
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        if must_exist:
            what = "does not exist" if not path.exists() else "is empty (it holds no studies)"
            raise CliError(
                f"--storage {storage}: {path.resolve()} {what}. Check the path (sqlite:///name.db "
                "is relative to the current folder), or create a study first: "
                f"cascaderl-optuna optimize --storage {shlex.quote(storage)} --trials 10"
            )
        return
    if path.is_dir():
        raise CliError(f"--storage {storage}: {path} is a folder; name a database file inside it.")
    import sqlite3

    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise CliError(
            f"--storage {storage}: {path} is not an SQLite database ({exc}). Give an Optuna "
            "SQLite file, or a new file name to create one."
        ) from None
    if not {"studies", "trials"} <= tables:
        raise CliError(
            f"--storage {storage}: {path} is an SQLite database but not an Optuna storage (it has "
            f"no studies/trials tables). It is left as it is; give another file name."
        )


def load_warm_start(name: str | None, storage: str, study_name: str, study_storage: str) -> Study | None:
    """The earlier study ``--warm-start`` names, from ``--warm-start-storage`` (default: ``--storage``).

    Raises:
        CliError: the storage has no such study (the message lists the ones it has), or it is the study itself.
    """
    if name is None:
        return None
    if name == study_name and storage == study_storage:
        raise CliError(
            f"--warm-start {name}: that is the study being run; warm-start from an earlier study (another "
            "--study-name, or --warm-start-storage for one in another storage)."
        )
    check_storage(storage, must_exist=True)
    try:
        names = optuna.get_all_study_names(storage=storage)
    except Exception as exc:
        raise CliError(f"cannot open --warm-start-storage {storage!r} ({type(exc).__name__}: {exc}).") from None
    if name not in names:
        raise CliError(
            f"--warm-start {name}: {storage} has no study of that name; it has {', '.join(sorted(names)) or 'none'}. "
            "Give the earlier study's --study-name (and --warm-start-storage if it lives elsewhere)."
        )
    return optuna.load_study(study_name=name, storage=storage)


def open_study(
    *,
    storage: str,
    study_name: str,
    task: Any,
    sampler_name: str,
    space: Any,
    seed: int | None,
    pruner: optuna.pruners.BasePruner,
    n_startup_trials: int | None = None,
    memory_budget_gib: float | None = None,
    warm_start: str | None = None,
    warm_start_storage: str | None = None,
) -> tuple[Study, bool]:
    """Create the study, or load it when the name exists; ``(study, resumed)``.

    Raises:
        CliError: the storage cannot be opened, or the stored study was made by something else
            or with another task, sampler or search space.
    """
    check_storage(storage, must_exist=False)
    try:
        names = optuna.get_all_study_names(storage=storage)
    except Exception as exc:
        raise CliError(
            f"cannot open storage {storage!r} ({type(exc).__name__}: {exc}). Give an Optuna "
            "storage URL such as sqlite:///cascaderl.db or postgresql://user:pw@host/db."
        ) from None
    earlier = load_warm_start(warm_start, warm_start_storage or storage, study_name, storage)
    sampler = make_sampler(sampler_name, seed, space.strategic_params, n_startup_trials, earlier)
    expected = {
        "task": task.name,
        "sampler": sampler_name,
        "space": space_fingerprint(space),
        "memory_budget_gib": memory_budget_gib,
        "warm_start": None if warm_start is None else f"{warm_start} in {warm_start_storage or storage}",
    }
    if study_name in names:
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
        stored = {k[len(ATTR_PREFIX) :]: v for k, v in study.user_attrs.items() if k.startswith(ATTR_PREFIX)}
        if not stored:
            raise CliError(
                f"study {study_name!r} already exists in {storage} but was not created by "
                "`cascaderl-optuna optimize`; choose another --study-name (its trials are left as they are)."
            )
        hints = {
            "task": f"--task {stored.get('task')}",
            "sampler": f"--sampler {stored.get('sampler')}",
            "space": "the search space file it was created with (--space)",
            "warm_start": (
                "no --warm-start"
                if stored.get("warm_start") is None
                else "--warm-start {} --warm-start-storage {}".format(*str(stored["warm_start"]).split(" in ", 1))
            ),
            "memory_budget_gib": (
                "no --memory-budget"
                if stored.get("memory_budget_gib") is None
                else f"--memory-budget {stored.get('memory_budget_gib')}"
            ),
        }
        for key, value in expected.items():
            if stored.get(key) != value:
                raise CliError(
                    f"study {study_name!r} in {storage} was created with {key} "
                    f"{stored.get(key)!r}, not {value!r}. To add trials to it, run again with "
                    f"{hints[key]}; to start a new experiment, pass another --study-name. "
                    "Nothing was changed."
                )
        if study.direction.name.lower() != task.direction:
            raise CliError(
                f"study {study_name!r} is a {study.direction.name.lower()} study; "
                f"task {task.name!r} needs {task.direction}."
            )
        return study, True
    study = optuna.create_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=pruner, direction=task.direction
    )
    for key, value in expected.items():
        if value is not None:
            study.set_user_attr(ATTR_PREFIX + key, value)
    return study, False


def make_objective(task: Any, space: Any) -> Any:
    """``space.suggest`` then ``task.objective``; a diverged run records its reason and fails."""
    from cascaderl_optuna.cli.tasks import TrainingDiverged

    def objective(trial: optuna.Trial) -> float:
        params = space.suggest(trial)
        try:
            return task.objective(trial, params)
        except TrainingDiverged as exc:
            trial.set_user_attr("fail_reason", str(exc))
            raise

    return objective


def parse_memory(text: str) -> float:
    """``--memory-budget``: a size in GiB (``24``, ``0.5``) or with a unit (``512MiB``, ``24GiB``, ``300KB``)."""
    import re

    units = {
        "": 1.0,
        "kib": 2.0**-20,
        "mib": 2.0**-10,
        "gib": 1.0,
        "kb": 1e3 / 2**30,
        "mb": 1e6 / 2**30,
        "gb": 1e9 / 2**30,
    }
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in units or float(match.group(1)) <= 0:
        raise CliError(
            f"--memory-budget {text!r}: give a positive size in GiB (24, 0.5) or with a unit (512MiB, 24GiB, 300KB)."
        )
    return float(match.group(1)) * units[match.group(2)]


def make_console(*, stderr: bool = False, file: Any = None, environ: Any = None) -> Any:
    """The Rich console of the command: the terminal's width on a terminal, no wrapping elsewhere.

    Written to a pipe, a file or a CI log, Rich would format for 80 columns and break long lines
    (a path, a parameter assignment, the best configuration) into fragments. There the console
    takes ``COLUMNS`` when it is set (the table is laid out to fit it, see :class:`LiveTable`),
    else ``NON_TERMINAL_WIDTH``, and ``soft_wrap``: a message is one line however long, as a log
    line should be.
    """
    from rich.console import Console

    environ = os.environ if environ is None else environ
    probe = Console(stderr=stderr, file=file, _environ=environ)
    if probe.is_terminal:
        return probe
    columns = str(environ.get("COLUMNS", ""))
    width = int(columns) if columns.isdigit() and int(columns) > 0 else NON_TERMINAL_WIDTH
    return Console(stderr=stderr, file=file, width=width, soft_wrap=True, _environ=environ)


# -- commands --------------------------------------------------------------------------------------
def cmd_optimize(args: argparse.Namespace, console: Any) -> int:
    """``cascaderl-optuna optimize``: every check first, then the study, its trials and the report.

    The order matters: bad arguments, an unknown task or a bad space are refused before any
    storage is opened, so a refused run leaves nothing behind; the trials are in the storage the
    moment each one finishes, so an interrupted run still reports on them (exit status 130).
    """
    check_optimize_arguments(args)
    budget = parse_memory(args.memory_budget) if args.memory_budget is not None else None
    task = load_task(args.task, data=args.data, device=args.device, memory_budget_gib=budget)
    space = load_space(task, args.space)
    study_name = args.study_name or f"{task.name}-{args.sampler}"
    study, resumed = open_study(
        storage=args.storage,
        study_name=study_name,
        task=task,
        sampler_name=args.sampler,
        space=space,
        seed=args.seed,
        pruner=make_pruner(args.pruner),
        n_startup_trials=args.startup_trials,
        memory_budget_gib=budget,
        warm_start=args.warm_start,
        warm_start_storage=args.warm_start_storage,
    )
    before = len(study.trials)
    console.print(
        f"{'Resuming' if resumed else 'Created'} study {study_name} in {args.storage} "
        f"({before} trials stored); task {task.name}, sampler {args.sampler}, space {space.source}.",
        markup=False,
    )
    loggers = make_loggers(args, study_name, task)
    live = LiveTable(
        console, args.trials, space.strategic_names, title=f"{study_name} ({task.objective_metric}, {task.direction})"
    )
    start = time.monotonic()
    interrupted = run_trials(study, task, space, args.trials, live, loggers, console)
    print_outcome(study, task, added=len(study.trials) - before, elapsed=time.monotonic() - start, console=console)
    if args.reports.lower() != "none":
        write_report(study, task, space, args.reports, args.eval_seeds, console)
    _publish_to_dashboard(study, space)
    console.print(
        f"Open the study in optuna-dashboard: cascaderl-optuna dashboard --storage {shlex.quote(args.storage)}",
        markup=False,
    )
    return 130 if interrupted else 0


def check_optimize_arguments(args: argparse.Namespace) -> None:
    """Refuse counts below 1 and a report folder that is a file, before anything is created or trained.

    A report folder that cannot be written would only show up after the last trial; the trials
    would be stored, but the report the user asked for would be lost to a traceback.
    """
    if args.trials < 1:
        raise CliError(f"--trials must be at least 1, got {args.trials}.")
    if args.eval_seeds < 1:
        raise CliError(f"--eval-seeds must be at least 1, got {args.eval_seeds}.")
    if args.startup_trials is not None and args.startup_trials < 1:
        raise CliError(f"--startup-trials must be at least 1, got {args.startup_trials}.")
    if args.reports.lower() != "none":
        from pathlib import Path

        reports = Path(args.reports)
        if reports.exists() and not reports.is_dir():
            raise CliError(
                f"--reports {args.reports}: a file of that name exists, and the report is a folder. "
                "Give a folder name, or --reports none."
            )


def load_task(name: str, *, data: str | None, device: str | None, memory_budget_gib: float | None) -> Any:
    """The task ``--task`` names, built with ``--data`` and ``--device``; its failures as :class:`CliError`.

    Building a task loads its data and, for some, imports an optional extra: each way that can
    fail (no such task, a missing extra, an option the task does not take, unreadable data) is
    the user's to fix, so it becomes one message naming the argument rather than a traceback.
    """
    from cascaderl_optuna.cli.tasks import get_task
    from cascaderl_optuna.cli.tasks import UnknownTaskError

    options = {"data": data} if data else {}
    if device:
        options["device"] = device
    try:
        task = get_task(name, **options)
    except UnknownTaskError as exc:
        raise CliError(str(exc)) from None
    except ImportError as exc:  # a task's optional extra (e.g. text_classification needs the llm extra)
        raise CliError(str(exc)) from None
    except TypeError as exc:
        if device and "device" in str(exc):
            raise CliError(
                f"task {name!r} does not take --device (it runs on the CPU); leave the option out."
            ) from None
        raise
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    task.memory_budget_gib = memory_budget_gib
    return task


def load_space(task: Any, path: str | None) -> Any:
    """The task's own search space, or the ``--space`` file once the task has checked it understands it."""
    from cascaderl_optuna.search_space import SearchSpaceError

    try:
        return task.load_space(path)
    except SearchSpaceError as exc:
        raise CliError(f"bad search space: {exc}") from None


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """``--pruner``: the median pruner, or none.

    The median pruner waits for 5 trials and judges a trial only from its third report: the
    first epochs of a run with warmup say little about where it ends.
    """
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    return optuna.pruners.NopPruner()


def make_loggers(args: argparse.Namespace, study_name: str, task: Any) -> list[tuple[Any, Any]]:
    """The ``--tensorboard`` and ``--wandb`` callbacks, each with the function that closes it.

    Each logger holds a file or a connection; :func:`run_trials` closes them however the
    optimisation ends, so the last trials reach the log even after Ctrl+C.
    """
    loggers: list[tuple[Any, Any]] = []
    if args.tensorboard:
        from cascaderl_optuna.integrations.loggers import TensorBoardCallback

        tb = TensorBoardCallback(args.tensorboard)
        loggers.append((tb, tb.close))
    if args.wandb:
        from cascaderl_optuna.integrations.loggers import WandbCallback

        wb = WandbCallback(project=args.wandb, name=study_name, config={"task": task.name, "sampler": args.sampler})
        loggers.append((wb, wb.finish))
    return loggers


def run_trials(
    study: Study,
    task: Any,
    space: Any,
    n_trials: int,
    live: LiveTable,
    loggers: Sequence[tuple[Any, Any]],
    console: Any,
) -> bool:
    """Run ``n_trials`` trials under the live view; ``True`` when Ctrl+C stopped them.

    A diverged training fails its trial and the study goes on (``catch``). Ctrl+C is not an
    error here: the finished trials are stored, and the caller still writes their report.
    """
    from cascaderl_optuna.cli.tasks import TrainingDiverged

    callbacks = [live, *(callback for callback, _ in loggers)]
    try:
        with live:
            study.optimize(
                make_objective(task, space), n_trials=n_trials, catch=(TrainingDiverged,), callbacks=callbacks
            )
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted: writing the report of the trials finished so far.[/]")
        return True
    finally:
        for _, close in loggers:
            close()
    return False


def print_outcome(study: Study, task: Any, *, added: int, elapsed: float, console: Any) -> None:
    """How many trials ran, and the best configuration found, in full (the table abbreviates it)."""
    console.print(f"{added} trials in {elapsed:.1f} s; the study now has {len(study.trials)} trials.")
    try:
        best = study.best_trial
    except ValueError:
        console.print("[yellow]No trial completed.[/]")
        return
    console.print(f"Best: trial {best.number}, {task.objective_metric} {best.value:.4g}, {best.params}", markup=False)


def write_report(study: Study, task: Any, space: Any, folder: str, eval_seeds: int, console: Any) -> None:
    """The report folder (:func:`~cascaderl_optuna.cli.reports.write_reports`), and its headline on the console.

    The evaluation retrains the default and the best configuration: the user is told first,
    since it takes as long as a few trials.
    """
    from cascaderl_optuna.cli.reports import write_reports

    console.print("Evaluating the default and the best configuration on the held-out test split...")
    written = write_reports(study, task, space, folder, seeds=tuple(range(eval_seeds)))
    report = json.loads(written["evaluation.json"].read_text())
    m = task.test_metric
    line = f"{m}: default {report['default']['test'][m]:.4g}"
    if report["best"]:
        line += f", best found {report['best']['test'][m]:.4g}"
    console.print(line)
    console.print(f"Report written to {folder}/ ({', '.join(sorted(written))}).", markup=False)


def _publish_to_dashboard(study: Study, space: Any) -> None:
    """Save the cascade figures into the study for optuna-dashboard, when it is installed."""
    try:
        import optuna_dashboard  # noqa: F401
    except ImportError:
        return
    from cascaderl_optuna.integrations.dashboard import publish_to_dashboard

    present = {n for t in study.trials for n in t.params}
    strategic = [n for n in space.strategic_names if n in present]
    if not strategic or not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return
    publish_to_dashboard(study, strategic_params=strategic)


def dashboard_command(storage: str, host: str, port: int) -> list[str]:
    return ["optuna-dashboard", storage, "--host", host, "--port", str(port)]


def cmd_dashboard(args: argparse.Namespace, console: Any) -> int:
    command = " ".join(shlex.quote(a) for a in dashboard_command(args.storage, args.host, args.port))
    # The arguments first: a wrong storage or port is an error whether or not the extra is installed, and the
    # command printed below must name a storage that exists.
    if not 0 < args.port < 65536:
        raise CliError(f"--port must be between 1 and 65535, got {args.port}.")
    check_storage(args.storage, must_exist=True)
    try:
        from optuna_dashboard import run_server
    except ImportError:
        console.print(
            "optuna-dashboard is not installed. Install it and run:\n"
            "  pip install 'cascaderl-optuna[dashboard]'\n"
            f"  {command}",
            markup=False,
        )
        return 1
    try:
        names = optuna.get_all_study_names(storage=args.storage)
    except Exception as exc:
        raise CliError(
            f"cannot open storage {args.storage!r} ({type(exc).__name__}: {exc}). Give the Optuna "
            "storage URL the studies were created in, such as sqlite:///cascaderl.db."
        ) from None
    studies = f"{len(names)} {'study' if len(names) == 1 else 'studies'}"
    console.print(
        f"Serving {args.storage} ({studies}) on http://{args.host}:{args.port} (Ctrl+C to stop); "
        f"the same as: {command}",
        markup=False,
    )
    try:
        run_server(args.storage, host=args.host, port=args.port)
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the port is taken, or the host is not this machine's
        raise CliError(
            f"cannot serve on {args.host}:{args.port} ({exc.strerror or exc}); pass another --port (or --host)."
        ) from None
    return 0


def cmd_tasks(args: argparse.Namespace, console: Any) -> int:
    from cascaderl_optuna.cli.tasks import describe_tasks

    infos = describe_tasks()
    width = max(len(i.name) for i in infos)
    for info in infos:
        line = f"{info.name:<{width}}  {info.description}"
        if info.extra:
            line += f"  [needs the {info.extra} extra"
            if info.missing:
                line += f", not installed: pip install 'cascaderl-optuna[{info.extra}]'"
            line += "]"
        console.print(line, markup=False, highlight=False)
    example = "digits_mlp" if any(i.name == "digits_mlp" for i in infos) else infos[0].name
    console.print(f"\nRun one: cascaderl-optuna optimize --task {example} --trials 30", markup=False, highlight=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cascaderl-optuna",
        description="Tune training tasks with CascadeSampler (hierarchical PPO over Optuna).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    opt = sub.add_parser("optimize", help="run (or continue) a study on a task and write a report")
    opt.add_argument(
        "--task", default="digits_mlp", help="task name (see `cascaderl-optuna tasks`); default digits_mlp"
    )
    opt.add_argument("--trials", type=int, required=True, help="number of trials to add to the study")
    opt.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default {DEFAULT_STORAGE})")
    opt.add_argument(
        "--study-name", default=None, help="study name (default TASK-SAMPLER); an existing study is continued"
    )
    opt.add_argument("--sampler", choices=SAMPLERS, default="cascade", help="sampler (default cascade)")
    opt.add_argument("--pruner", choices=PRUNERS, default="median", help="pruner (default median)")
    opt.add_argument("--space", default=None, help="YAML search space file (default: the task's own)")
    opt.add_argument("--seed", type=int, default=None, help="sampler seed")
    opt.add_argument("--reports", default="reports", help="report folder (default reports; 'none' for no report)")
    opt.add_argument(
        "--eval-seeds", type=int, default=3, help="training seeds of the before/after evaluation (default 3)"
    )
    opt.add_argument(
        "--startup-trials",
        type=int,
        default=None,
        help="space-filling trials before the sampler learns (default: the sampler's)",
    )
    opt.add_argument(
        "--data",
        default=None,
        help="task data (digits_mlp: .csv with the label last, or .npz with x, y; text_classification: a folder "
        "of train/dev/test .tsv/.csv files or a Hugging Face dataset name)",
    )
    opt.add_argument(
        "--device",
        default=None,
        help=(
            "where the task trains: cpu, cuda or auto (text_classification; default auto: CUDA when present; "
            "CUDA_VISIBLE_DEVICES picks the GPU)"
        ),
    )
    opt.add_argument(
        "--memory-budget",
        default=None,
        metavar="SIZE",
        help="memory a training step may use (GiB, or 512MiB, 24GiB): a configuration that needs more is stored as "
        "infeasible (constraint memory_over_budget_gib > 0), as one that runs out of memory always is",
    )
    opt.add_argument(
        "--warm-start",
        default=None,
        metavar="STUDY",
        help="an earlier, related study to start from (the cascade reads it as prior knowledge: its best "
        "configurations open the study, its tuning and elite seed the agents), e.g. the same task on the previous "
        "model; in --storage unless --warm-start-storage says where",
    )
    opt.add_argument(
        "--warm-start-storage",
        default=None,
        metavar="URL",
        help="storage of the --warm-start study (default --storage)",
    )
    opt.add_argument("--tensorboard", default=None, metavar="DIR", help="also log every trial to TensorBoard in DIR")
    opt.add_argument("--wandb", default=None, metavar="PROJECT", help="also log every trial to Weights & Biases")
    dash = sub.add_parser("dashboard", help="open the studies in optuna-dashboard")
    dash.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default {DEFAULT_STORAGE})")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8080)
    sub.add_parser("tasks", help="list the tasks")
    return parser


def main(argv: Sequence[str] | None = None, console: Any = None) -> int:
    """Entry point of ``cascaderl-optuna``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        import rich  # noqa: F401
    except ImportError:
        print("cascaderl-optuna needs the cli extra: pip install 'cascaderl-optuna[cli]'", file=sys.stderr)
        return 2
    err_console = None if console is not None else make_console(stderr=True)
    console = console or make_console()
    commands = {"optimize": cmd_optimize, "dashboard": cmd_dashboard, "tasks": cmd_tasks}
    verbosity = optuna.logging.get_verbosity()
    try:
        # The live table reports every trial; optuna's per-trial log lines and the notice that
        # QMCSampler (the cascade's space-filling start) is experimental would only interleave.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return commands[args.command](args, console)
    except CliError as exc:
        from rich.markup import escape

        (err_console or console).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    finally:
        optuna.logging.set_verbosity(verbosity)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
