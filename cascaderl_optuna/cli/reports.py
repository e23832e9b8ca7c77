"""The report a run of ``cascaderl-optuna optimize`` leaves behind: did tuning pay off, and how.

:func:`write_reports` writes, into one folder:

* ``evaluation.json``: the task's default configuration against the best trial's, each trained
  again with a few seeds and measured on the task's held-out test split (which the objective
  never sees), plus the best trial's own validation value;
* ``summary.md`` and ``summary.html``: the same numbers as a small table, with links to the figures;
* ``optimization_history.html``: the objective value per trial and the best so far (optuna's
  ``plot_optimization_history``);
* ``training_curves.html``: training and validation loss of both configurations, per epoch (or per
  evaluation step, for tasks that record ``step``);
* ``cascade_tree.html`` and ``strategy_history.html``: where the cascade spent its trials
  (:func:`~cascaderl_optuna.integrations.visualization.plot_cascade_tree`,
  :func:`~cascaderl_optuna.integrations.visualization.plot_strategy_history`).

The HTML figures share one copy of plotly.js written next to them (``plotly.min.js``), so the
folder opens offline and stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
import html
import json
import math
from pathlib import Path
from typing import Any

import optuna
from optuna.study import Study
from optuna.trial import TrialState

from cascaderl_optuna.cli.tasks import Evaluation
from cascaderl_optuna.cli.tasks import Task
from cascaderl_optuna.cli.tasks import TrainingDiverged
from cascaderl_optuna.search_space import SearchSpace


EVAL_SEEDS = (0, 1, 2)
FIGURES = {
    "optimization_history.html": "objective value per trial, best so far",
    "training_curves.html": "training and validation loss per epoch (or evaluation step), default vs best",
    "cascade_tree.html": "the strategy tree the cascade explored",
    "strategy_history.html": "strategy shares and policy probabilities over the trials",
}


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values))


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def _active(space: SearchSpace | None, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that matter: those of the space whose condition holds (all without a space)."""
    if space is None:
        return params
    out: dict[str, Any] = {}
    for p in space.parameters:
        if p.name in params and p.active(out):
            out[p.name] = params[p.name]
    out.update({k: v for k, v in params.items() if k not in space})
    return out


def _evaluate(
    task: Task, params: dict[str, Any], seeds: Sequence[int], space: SearchSpace | None
) -> tuple[dict[str, Any], list[Evaluation]]:
    full = task.full_params(params)
    summary: dict[str, Any] = {
        "params": {k: _json_value(v) for k, v in _active(space, full).items()},
        "full_params": {k: _json_value(v) for k, v in full.items()},
    }
    try:
        runs = [task.evaluate(params, seed=s) for s in seeds]
    except TrainingDiverged as exc:  # e.g. a best trial whose learning rate only held for its seed
        summary.update(test=None, test_per_seed=None, val_loss=None, diverged=str(exc))
        return summary, []
    names = list(runs[0].metrics)
    summary |= {
        "test": {m: _mean([r.metrics[m] for r in runs]) for m in names},
        "test_per_seed": [{m: r.metrics[m] for m in names} for r in runs],
        "val_loss": _mean([r.curves["val_loss"][-1] for r in runs])
        if all(r.curves.get("val_loss") for r in runs)
        else None,
    }
    return summary, runs


def evaluate_before_after(
    study: Study, task: Task, seeds: Sequence[int] = EVAL_SEEDS, space: SearchSpace | None = None
) -> tuple[dict[str, Any], dict[str, list[Evaluation]]]:
    """``(report dict, {"default": runs, "best": runs})``; ``best`` is absent without a COMPLETE trial.

    ``params`` in the report are the parameters that take effect (those whose ``when`` condition
    in ``space`` holds); ``full_params`` is everything the training received (defaults included).
    """
    report: dict[str, Any] = {
        "task": task.name,
        "study_name": study.study_name,
        "objective": task.objective_metric,
        "direction": task.direction,
        "test_metric": task.test_metric,
        "eval_seeds": list(seeds),
        "n_trials": len(study.trials),
        "n_trials_by_state": {
            s.name: sum(t.state == s for t in study.trials)
            for s in TrialState
            if any(t.state == s for t in study.trials)
        },
    }
    default, default_runs = _evaluate(task, task.default_params, seeds, space)
    report["default"] = default
    runs = {"default": default_runs}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if complete:
        best = study.best_trial
        best_summary, best_runs = _evaluate(task, dict(best.params), seeds, space)
        best_summary["trial"] = best.number
        best_summary["value"] = best.value
        report["best"] = best_summary
        runs["best"] = best_runs
        report["improvement"] = (
            {m: default["test"][m] - best_summary["test"][m] for m in default["test"]}
            if default["test"] and best_summary["test"]
            else None
        )
    else:
        report["best"] = None
        report["improvement"] = None
    return report, runs


def _training_curves_figure(runs: dict[str, list[Evaluation]]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "validation loss"))
    colors = {"default": "#7f7f7f", "best": "#1f77b4"}
    by_step = False  # a task that evaluates every k optimizer steps records them under "step"
    for label, evals in runs.items():
        for i, ev in enumerate(evals):
            steps = ev.curves.get("step")
            by_step = by_step or bool(steps)
            for col, key in ((1, "train_loss"), (2, "val_loss")):
                ys = ev.curves.get(key, [])
                fig.add_trace(
                    go.Scatter(
                        x=list(steps) if steps and len(steps) == len(ys) else list(range(1, len(ys) + 1)),
                        y=ys,
                        mode="lines",
                        name=f"{label} (seed {i})",
                        legendgroup=label,
                        showlegend=col == 1,
                        line={"color": colors.get(label), "dash": "solid" if i == 0 else "dot"},
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text="optimizer step" if by_step else "epoch")
    fig.update_yaxes(type="log")
    fig.update_layout(title="Training curves: default configuration vs best found")
    return fig


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def _summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    best = report["best"] or {}
    n = len(report["eval_seeds"])
    rows = [
        (f"{report['objective']} (mean of {n} seeds)", _fmt(report["default"]["val_loss"]), _fmt(best.get("val_loss")))
    ]
    if best:
        rows.append(("objective value of the trial itself", "-", _fmt(best.get("value"))))
    metrics = list(report["default"]["test"] or best.get("test") or {})
    for m in metrics:
        rows.append(
            (
                f"{m} (held-out test split, mean of {n} seeds)",
                _fmt((report["default"]["test"] or {}).get(m, "diverged")),
                _fmt((best.get("test") or {}).get(m, "diverged" if best else None)),
            )
        )
    return rows


def _param_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    best = (report["best"] or {}).get("params", {})
    order = [*report["default"].get("full_params", {}), *report["default"]["params"], *best]
    names = [n for n in dict.fromkeys(order) if n in report["default"]["params"] or n in best]
    return [(n, _fmt(report["default"]["params"].get(n)), _fmt(best.get(n))) for n in names]


def _markdown(report: dict[str, Any]) -> str:
    best = report["best"]
    lines = [
        f"# {report['task']}: study {report['study_name']}",
        "",
        f"{report['n_trials']} trials "
        f"({', '.join(f'{k.lower()} {v}' for k, v in report['n_trials_by_state'].items())}). "
        f"Objective: {report['objective']} ({report['direction']}).",
        "",
        "| | default | best found" + (f" (trial {best['trial']})" if best else "") + " |",
        "| --- | --- | --- |",
        *[f"| {a} | {b} | {c} |" for a, b, c in _summary_rows(report)],
        "",
        "| parameter | default | best found |",
        "| --- | --- | --- |",
        *[f"| {a} | {b} | {c} |" for a, b, c in _param_rows(report)],
        "",
        "Figures: " + ", ".join(f"[{name}]({name})" for name in FIGURES),
        "",
    ]
    if best is None:
        lines.insert(4, "No trial completed, so there is no best configuration to compare.\n")
    return "\n".join(lines)


def _html(report: dict[str, Any]) -> str:
    def table(head: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> str:
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{cells}</table>"

    best = report["best"]
    best_head = "best found" + (f" (trial {best['trial']})" if best else "")
    links = "".join(
        f'<li><a href="{html.escape(n)}">{html.escape(n)}</a>: {html.escape(d)}</li>' for n, d in FIGURES.items()
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(report['task'])}: {html.escape(report['study_name'])}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}</style>"
        "</head><body>"
        f"<h1>{html.escape(report['task'])}: study {html.escape(report['study_name'])}</h1>"
        f"<p>{report['n_trials']} trials; objective: {html.escape(report['objective'])} ({report['direction']}).</p>"
        + ("" if best else "<p>No trial completed, so there is no best configuration to compare.</p>")
        + table(("", "default", best_head), _summary_rows(report))
        + table(("parameter", "default", "best found"), _param_rows(report))
        + f"<ul>{links}</ul></body></html>"
    )


def write_reports(
    study: Study,
    task: Task,
    space: SearchSpace,
    out_dir: str | Path,
    *,
    seeds: Sequence[int] = EVAL_SEEDS,
) -> dict[str, Path]:
    """Evaluate default vs best on the held-out test split and write the report folder.

    Returns:
        ``{file name: path}`` of everything written.
    """
    from cascaderl_optuna.integrations.visualization import plot_cascade_tree
    from cascaderl_optuna.integrations.visualization import plot_strategy_history

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report, runs = evaluate_before_after(study, task, seeds, space)
    written: dict[str, Path] = {}

    def save_text(name: str, text: str) -> None:
        (out / name).write_text(text, encoding="utf-8")
        written[name] = out / name

    save_text("evaluation.json", json.dumps(report, indent=2, allow_nan=False, default=_json_value))
    save_text("summary.md", _markdown(report))
    save_text("summary.html", _html(report))

    figures: dict[str, Any] = {
        "optimization_history.html": optuna.visualization.plot_optimization_history(study),
        "training_curves.html": _training_curves_figure(runs),
    }
    present = {n for t in study.trials for n in t.params}
    strategic = [n for n in space.strategic_names if n in present]
    if (
        strategic
        and len(study.directions) == 1
        and study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    ):
        figures["cascade_tree.html"] = plot_cascade_tree(study, strategic_params=strategic)
        figures["strategy_history.html"] = plot_strategy_history(study, strategic_params=strategic)
    for name, fig in figures.items():
        fig.write_html(out / name, include_plotlyjs="directory", full_html=True)
        written[name] = out / name
    if (out / "plotly.min.js").exists():
        written["plotly.min.js"] = out / "plotly.min.js"
    return written
