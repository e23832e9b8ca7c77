"""The live view of ``cascaderl-optuna optimize``: the finished trials as a table, and a progress bar.

Every row of the table is one line, and the table is laid out for the console it is drawn on, so a
value is never folded across lines (``learning_`` / ``rate=0.03`` / ``9``):

* the widest layout that holds every parameter wins: all columns with the full parameter names;
  then the tactical parameter names abbreviated (``lr=0.0024``; a legend under the table says
  ``lr=learning_rate``); then a long state (a FAIL or INFEASIBLE reason) cut short with ``…``;
  then the policy columns (``entropy``, then ``p(strategy)``) left out;
* when even that is too wide, the ``values`` column shows as many whole ``name=value`` pairs per
  trial as fit and ``…`` for the rest (and gives up the ``best`` column when too little room is
  left for a single pair);
* on a terminal the table also fits the window's height: it keeps the newest trials and drops the
  oldest, so the progress bar and the latest trial stay on screen.

Off a terminal (a pipe, a file, a CI log) the width is ``COLUMNS``, or wide enough for everything
when that is not set (:func:`cascaderl_optuna.cli.app.make_console`), and every trial is also printed
as one full log line (:func:`trial_line`) the moment it finishes.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
import itertools
import math
from typing import Any

from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


LIVE_ROWS = 15
"""The most trials the table shows (the newest)."""
COLUMNS = ("trial", "state", "strategy", "values", "value", "best", "p(strategy)", "entropy")
RIGHT_ALIGNED = frozenset({"trial", "value", "best", "p(strategy)", "entropy"})
SHORT_STATE_WIDTH = 14
"""Width of the state column once a narrow console cuts long states (``FAIL: validat…``)."""
MIN_VALUES_WIDTH = 20
"""Room the ``values`` column needs for two pairs (``lr=0.0241 wd=0.0013``) before ``best`` is given up for it."""
MORE = "…"


@dataclass(frozen=True)
class Layout:
    """Which columns the table shows, and how: full or abbreviated names, full or cut states, and
    whether the columns are set apart by lines and a frame or, to leave the values more room, by
    spaces only (``compact``)."""

    columns: tuple[str, ...] = COLUMNS
    short_names: bool = False
    short_state: bool = False
    compact: bool = False


LAYOUTS = (
    Layout(),
    Layout(short_names=True),
    Layout(short_names=True, short_state=True),
    Layout(COLUMNS[:-1], short_names=True, short_state=True, compact=True),
    Layout(COLUMNS[:-2], short_names=True, short_state=True, compact=True),
)
"""From the widest to the narrowest; the first that holds every parameter of the shown trials wins."""
CUT_LAYOUTS = (LAYOUTS[-1], Layout(COLUMNS[:-3], short_names=True, short_state=True, compact=True))
"""When none does: the ``values`` column cut to fit, keeping ``best`` while a pair still fits beside it."""


@dataclass
class TrialRow:
    """One finished trial as the table shows it."""

    cells: dict[str, str]
    """The text of each column (``values`` with the full parameter names)."""
    params: list[tuple[str, str]]
    """The tactical parameters, ``(name, formatted value)``, in the order they were suggested."""
    new_best: bool


def format_value(v: Any) -> str:
    """A number as the table shows it (3 significant digits), anything else as text."""
    if isinstance(v, float):
        return f"{v:.3g}" if math.isfinite(v) else str(v)
    return "" if v is None else str(v)


def is_infeasible(trial: FrozenTrial) -> bool:
    return any(c > 0.0 for c in trial.constraints.values())


def _state_text(trial: FrozenTrial) -> str:
    if trial.state == TrialState.COMPLETE and is_infeasible(trial):
        return "INFEASIBLE: " + str(trial.user_attrs.get("infeasible_reason", "a constraint is above 0"))[:64]
    if trial.state == TrialState.FAIL and "fail_reason" in trial.user_attrs:
        return "FAIL: " + str(trial.user_attrs["fail_reason"])[:40]
    if trial.state == TrialState.PRUNED and trial.last_step is not None:
        return f"PRUNED @{trial.last_step}"
    return trial.state.name


def trial_row(study: Study, trial: FrozenTrial, strategic: Sequence[str], best: float | None) -> dict[str, str]:
    """The table's cells for one finished trial (policy numbers as the loggers compute them)."""
    from cascaderl_optuna.integrations.loggers import trial_metrics

    scalars, _ = trial_metrics(study, trial)
    p_strategy = scalars.get("charts/strategy_probability")
    entropy = scalars.get("charts/entropy")
    strategy = [format_value(trial.params[n]) for n in strategic if n in trial.params]
    others = [f"{n}={format_value(v)}" for n, v in trial.params.items() if n not in strategic]
    return {
        "trial": str(trial.number),
        "state": _state_text(trial),
        "strategy": " / ".join(strategy),
        "values": " ".join(others),
        "value": format_value(trial.value) if trial.state == TrialState.COMPLETE else "",
        "best": format_value(best),
        "p(strategy)": "" if p_strategy is None else f"{p_strategy:.3f}",
        "entropy": format_value(entropy),
    }


def trial_line(cells: dict[str, str]) -> str:
    """One finished trial as one log line (the non-terminal form of a table row), every parameter in full."""
    parts = [f"trial {cells['trial']}", cells["state"]]
    if cells["value"]:
        parts.append(f"value {cells['value']}")
    if cells["best"]:
        parts.append(f"best {cells['best']}")
    parts.append(f"strategy {cells['strategy']}")
    if cells["values"]:
        parts.append(cells["values"])
    if cells["p(strategy)"]:
        parts.append(f"p(strategy) {cells['p(strategy)']} entropy {cells['entropy']}")
    return " | ".join(parts)


def abbreviate(names: Iterable[str], known: dict[str, str] | None = None) -> dict[str, str]:
    """Short names for parameters, distinct, and never changed once given (``known`` is extended).

    The initials of a name in parts (``learning_rate`` -> ``lr``, ``weight_decay`` -> ``wd``), the
    first three letters of a one-word name (``momentum`` -> ``mom``), longer prefixes on a clash.
    A name of up to four characters stays as it is (numbered when an earlier one took it).
    """
    short = {} if known is None else known
    for name in names:
        if name in short:
            continue
        parts = [p for p in name.split("_") if p]
        first = "".join(p[0] for p in parts) if len(parts) > 1 else name[:3]
        candidates = [name] if len(name) <= 4 else [first, *(name[:k] for k in range(3, len(name))), name]
        taken = set(short.values())
        numbered = (f"{first}{k}" for k in itertools.count(2))  # a short name already taken: mom2
        short[name] = next(c for c in itertools.chain(candidates, numbered) if c not in taken)
    return short


def values_text(params: Sequence[tuple[str, str]], names: dict[str, str] | None, width: int | None) -> str:
    """``name=value`` pairs, whole; with ``width`` (in terminal cells), as many as fit and ``…`` for the rest."""
    from rich.cells import cell_len

    pairs = [f"{names.get(n, n) if names else n}={v}" for n, v in params]
    text = " ".join(pairs)
    if width is None or cell_len(text) <= width:
        return text
    shown: list[str] = []
    for pair in pairs:
        if cell_len(" ".join([*shown, pair, MORE])) > width:
            break
        shown.append(pair)
    return " ".join([*shown, MORE])


def build_table(
    rows: Sequence[TrialRow],
    layout: Layout,
    *,
    title: str,
    strategic: Sequence[str],
    names: dict[str, str],
    values_width: int | None = None,
) -> Any:
    """The Rich table of ``rows`` in ``layout``: one line per trial (no cell wraps)."""
    from rich import box
    from rich.table import Table

    short = names if layout.short_names else None
    caption = f"strategy = {' / '.join(strategic)}"
    used = dict.fromkeys(n for r in rows for n, _ in r.params) if short else {}
    legend = [f"{names[n]}={n}" for n in used if names.get(n, n) != n]
    if legend:
        caption += "; " + " ".join(legend)
    if layout.compact:
        table = Table(
            title=title, caption=caption, expand=False, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0)
        )
    else:
        table = Table(title=title, caption=caption, expand=False)
    for c in layout.columns:
        table.add_column(
            c,
            justify="right" if c in RIGHT_ALIGNED else "left",
            no_wrap=True,
            overflow="ellipsis",
            max_width=SHORT_STATE_WIDTH if c == "state" and layout.short_state else None,
        )
    for row in rows:
        cells = dict(row.cells, values=values_text(row.params, short, values_width))
        table.add_row(*(cells[c] for c in layout.columns), style="bold green" if row.new_best else None)
    return table


def natural_width(console: Any, table: Any) -> int:
    """How wide ``table`` is when no cell is wrapped or cut."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update_width(100_000), table).maximum


class LiveTable:
    """The finished trials as a study callback: a live Rich table and progress bar on a terminal.

    On a terminal the table redraws in place after every trial, fitted to the window (see the
    module docstring). Anywhere else (a pipe, a file, a CI log) nothing can redraw, and Rich's
    ``Live`` would print only once, at the end: there each trial is printed as one line
    (:func:`trial_line`) the moment it finishes, and the table, fitted to the console's width, at
    the end.
    """

    def __init__(
        self, console: Any, n_trials: int, strategic: Sequence[str], title: str, max_rows: int = LIVE_ROWS
    ) -> None:
        from rich.live import Live
        from rich.progress import BarColumn
        from rich.progress import MofNCompleteColumn
        from rich.progress import Progress
        from rich.progress import TextColumn
        from rich.progress import TimeElapsedColumn
        from rich.progress import TimeRemainingColumn

        self.console = console
        self.strategic = list(strategic)
        self.title = title
        self.max_rows = max_rows
        self.rows: list[TrialRow] = []
        self.short_names: dict[str, str] = {}
        self.progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
        )
        self.task_id = self.progress.add_task("trials", total=n_trials)
        self.on_terminal = bool(console.is_terminal)
        self.live = (
            Live(self.render(), console=console, refresh_per_second=4, transient=False) if self.on_terminal else None
        )

    def table(self, rows: Sequence[TrialRow]) -> Any:
        """``rows`` in the widest layout that fits the console's width (see the module docstring)."""
        width = self.console.width

        def build(layout: Layout, values_width: int | None = None) -> Any:
            return build_table(
                rows,
                layout,
                title=self.title,
                strategic=self.strategic,
                names=self.short_names,
                values_width=values_width,
            )

        for layout in LAYOUTS:
            table = build(layout)
            if natural_width(self.console, table) <= width:
                return table
        for layout in CUT_LAYOUTS:
            room = width - natural_width(self.console, build(layout, values_width=0)) + len("values")
            if room >= MIN_VALUES_WIDTH or layout is CUT_LAYOUTS[-1]:
                return build(layout, values_width=max(room, len(MORE)))
        raise AssertionError("unreachable")  # pragma: no cover

    def render(self) -> Any:
        """The table of the newest trials above the progress bar; on a terminal, no taller than the window."""
        from rich.console import Group

        shown = self.rows[-self.max_rows :]
        table = self.table(shown)
        if self.on_terminal:
            room = self.console.height - 2  # the progress bar's line, and the cursor's below it
            while len(shown) > 1 and len(self.console.render_lines(table, pad=False)) > room:
                shown = shown[1:]  # the oldest trial goes, the newest stays
                table = self.table(shown)
        return Group(table, self.progress)

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        try:
            best = study.best_value
        except ValueError:
            best = None
        cells = trial_row(study, trial, self.strategic, best)
        params = [(n, format_value(v)) for n, v in trial.params.items() if n not in self.strategic]
        abbreviate((n for n, _ in params), self.short_names)
        new_best = (
            trial.state == TrialState.COMPLETE and best is not None and trial.value == best and not is_infeasible(trial)
        )
        self.rows.append(TrialRow(cells, params, new_best))
        if self.live is not None:
            # The table first, then the count: Live redraws on its own thread as well, and the progress bar is
            # live, so advancing it first could show a count whose newest trial is not in the table yet.
            self.live.update(self.render(), refresh=True)
            self.progress.advance(self.task_id)
            self.live.refresh()
        else:
            self.progress.advance(self.task_id)
            self.console.print(trial_line(cells), markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> LiveTable:
        if self.live is not None:
            self.live.start(refresh=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.render(), refresh=True)
            self.live.stop()
        else:
            # soft_wrap=False: the console leaves log lines whole, but the legend under the table wraps to its width.
            self.console.print(self.render(), soft_wrap=False, crop=False)
