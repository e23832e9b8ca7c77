"""Pictures of what the cascade did: which strategies it explored, where it concentrated, and why.

Both figures are built from the study's storage alone (trials, their parameters and the JSON
records the sampler stores in their system attrs), so they work on a finished or a running study,
from any process, whether or not the study's sampler object is at hand, and on studies that
another sampler ran (the policy probabilities are then absent, and the figures say so).

* :func:`plot_cascade_tree` -- an icicle chart of the strategy tree. Each level is one strategic
  parameter (a "head" of the high-level agent), in the order the sampler decides them; under each
  full strategy sits a leaf with what the low level found there: the best value and the tactical
  values of the trial that reached it. A box's size is the trials spent on it, its colour the best
  value reached in it. Clicking a box zooms into that branch (the bar at the top zooms back out),
  so deep trees collapse and expand by click.

  An icicle rather than a treemap or a sunburst: it lays the levels out as columns, left to right,
  so it reads like the decision tree it is (root, first choice, second choice, ..., findings), and
  its rectangles keep room for the long labels a leaf carries (a sunburst's wedges do not; a
  treemap nests the levels inside each other and hides the order of the decisions).
* :func:`plot_strategy_history` -- how the strategy shares and the high-level policy's
  probabilities moved over the trials, one strategic parameter at a time (a menu picks it).

Conditional strategic parameters (``momentum_kind`` only under SGD, ``lora_targets`` only under
LoRA): a branch where no trial sets the parameter skips that level; a branch where some trials set
it and others do not gets a ``(not set)`` box for the latter, so every trial is counted exactly
once at every level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
import math
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.logging import get_logger
from optuna.study import Study
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import plotly.graph_objects as go

from cascaderl_optuna._cascade.coordinates import parameter_order
from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.optuna_compat import is_multi_objective
from cascaderl_optuna._cascade.records import Decision
from cascaderl_optuna._cascade.records import PolicyDiagnostics


_logger = get_logger(__name__)


class _NotSet:
    def __repr__(self) -> str:
        return "(not set)"


NOT_SET = _NotSet()
"""The ``choice`` of a box holding the trials of a branch that do not set the level's parameter
(a sentinel: a categorical choice could be the string "(not set)")."""
ROOT_ID = "all trials"
VISIBLE_LEVELS = 4
"""Levels of the tree shown at once (root included); click a box to see deeper."""
_MAX_TACTICAL_IN_LABEL = 3
_COLORSCALE = "Blues"
_NO_COMPLETE_COLOR = "#d9d9d9"
_ROOT_COLOR = "#f2f2f2"
_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
_NO_POLICY_MESSAGE = (
    "No high-level policy records (cascade:policy) in this study: it was not sampled by "
    "CascadeSampler, or the sampler is still in its space-filling start."
)


# -- reading the study ------------------------------------------------------------------------
def _spent_trials(study: Study) -> list[FrozenTrial]:
    """Every trial that ran or runs (WAITING trials have not spent anything yet), by number."""
    trials = study.get_trials(deepcopy=False, states=_STATES)
    return sorted(trials, key=lambda t: t.number)


def _latest_distributions(trials: Sequence[FrozenTrial]) -> dict[str, BaseDistribution]:
    latest: dict[str, BaseDistribution] = {}
    for t in trials:
        latest.update(t.distributions)
    return latest


def _sampler_order(trials: Sequence[FrozenTrial], names: set[str]) -> list[str]:
    """Order ``names`` as ``CascadeSampler`` orders its heads (:func:`parameter_order` over its
    finished trials), so the tree's first level is the sampler's first decision; names only
    unfinished or failed trials have follow by the same rule."""
    decided = (TrialState.COMPLETE, TrialState.PRUNED)
    first = [t for t in trials if t.state in decided] + [t for t in trials if t.state not in decided]
    return parameter_order(first, names)


def resolve_strategic_params(study: Study, strategic_params: Sequence[str] | None = None) -> list[StrategicParam]:
    """The strategic parameters (the heads of the tree), in order.

    With ``strategic_params`` given, exactly those parameters, in the order given. Otherwise every
    categorical parameter with more than one choice, every parameter a ``cascade:decision`` record
    names as a head (the integers the sampler was told are strategic), and, when the study's
    sampler object is a ``CascadeSampler``, its ``strategic_params``; in the sampler's order.
    """
    trials = _spent_trials(study)
    distributions = _latest_distributions(trials)
    if strategic_params is not None:
        if isinstance(strategic_params, str):
            raise ValueError(
                "strategic_params must be a sequence of parameter names, e.g. ('optimizer',), "
                f"not the string {strategic_params!r}."
            )
        names = list(dict.fromkeys(strategic_params))
        unknown = [n for n in names if n not in distributions]
        if unknown:
            raise ValueError(
                f"strategic_params {unknown} are not parameters of study "
                f"{study.study_name!r}; its parameters are {sorted(distributions)}."
            )
    else:
        from cascaderl_optuna.sampler import CascadeSampler

        found = {
            name
            for name, dist in distributions.items()
            if isinstance(dist, CategoricalDistribution) and not dist.single()
        }
        for t in trials:
            decision = Decision.read(t)
            if decision is not None:
                found.update(n for n in decision.strategy if n in distributions)
        sampler = getattr(study, "sampler", None)
        if isinstance(sampler, CascadeSampler):
            found.update(n for n in sampler._strategic_names if n in distributions)
        names = _sampler_order(trials, found)
    return [StrategicParam(name, distributions[name]) for name in names]


def _check_single_objective(study: Study, what: str) -> None:
    if is_multi_objective(study):
        raise ValueError(
            f"{what} supports single-objective studies only (CascadeSampler optimises one "
            f"objective); study {study.study_name!r} has {len(study.directions)} objectives."
        )


def _complete_value(t: FrozenTrial) -> float | None:
    if t.state != TrialState.COMPLETE or t.value is None or not math.isfinite(t.value):
        return None
    return float(t.value)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _empty_figure(title: str) -> go.Figure:
    """What optuna's own plots return for a study without trials: an empty figure (and a log)."""
    _logger.warning("Study instance does not contain trials.")
    figure = go.Figure(layout={"title": {"text": title}})
    figure.add_annotation(text="No trials yet.", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


# -- the cascade tree -------------------------------------------------------------------------
@dataclass
class TreeNode:
    """One box of the cascade tree; :func:`cascade_tree_nodes` returns them parents first."""

    id: str
    parent: str
    label: str
    param: str | None
    """The strategic parameter this box fixes (``None`` for the root and the leaves)."""
    choice: Any
    trials: list[FrozenTrial]
    is_leaf: bool = False
    path: tuple[str, ...] = ()
    """Labels of the strategic choices from the root down to this box (a leaf: its strategy)."""
    depth: int = 0
    """Column of the box: 0 for the root, one more per level below it."""
    best_trial: FrozenTrial | None = None
    recent_share: float = 0.0
    """Share of the study's last quarter of trials spent in this box."""
    policy_probability: float | None = None
    """The high-level policy's probability of this box's choice, in the most recent decision
    taken in the parent's context (``None`` without policy records)."""
    policy_trial: int | None = None
    state_counts: dict[str, int] = field(default_factory=dict)

    @property
    def best_value(self) -> float | None:
        return None if self.best_trial is None else _complete_value(self.best_trial)


def _best_trial(trials: Sequence[FrozenTrial], direction: StudyDirection) -> FrozenTrial | None:
    scored = [(v, t.number, t) for t in trials if (v := _complete_value(t)) is not None]
    if not scored:
        return None
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    return min(scored, key=lambda s: (sign * s[0], s[1]))[2]


def _group_by_choice(trials: Sequence[FrozenTrial], head: StrategicParam) -> list[tuple[Any, list[FrozenTrial]]]:
    """Trials grouped by their value of ``head``: choices in distribution order, then others."""
    known: dict[int, list[FrozenTrial]] = {}
    other: dict[str, tuple[Any, list[FrozenTrial]]] = {}
    missing: list[FrozenTrial] = []
    for t in trials:
        if head.name not in t.params:
            missing.append(t)
            continue
        value = t.params[head.name]
        idx = head.index_of(value)
        if idx is None:  # a choice the latest distribution no longer has
            other.setdefault(repr(value), (value, []))[1].append(t)
        else:
            known.setdefault(idx, []).append(t)
    groups = [(head.choices[i], known[i]) for i in sorted(known)]
    groups += list(other.values())
    if missing:
        groups.append((NOT_SET, missing))
    return groups


def cascade_tree_nodes(study: Study, *, strategic_params: Sequence[str] | None = None) -> list[TreeNode]:
    """The boxes of :func:`plot_cascade_tree`, parents before children (for tests and tools).

    Raises:
        ValueError: the study is multi-objective, or has trials but no strategic parameter.
    """
    return _build_tree(study, strategic_params)[0]


def _build_tree(study: Study, strategic_params: Sequence[str] | None) -> tuple[list[TreeNode], list[str]]:
    """The tree's boxes, and the names of the tactical parameters (the rest)."""
    _check_single_objective(study, "plot_cascade_tree")
    trials = _spent_trials(study)
    heads = resolve_strategic_params(study, strategic_params)
    if trials and not heads:
        raise ValueError(
            f"Study {study.study_name!r} has no strategic parameter: no categorical parameter "
            "with more than one choice, and none named. Name the integer or stepped parameters "
            "that choose a strategy with strategic_params=(...)."
        )
    direction = study.direction
    recent_from = trials[(3 * len(trials)) // 4].number if trials else 0
    n_recent = sum(t.number >= recent_from for t in trials)
    policies: dict[int, dict[str, Any]] = {}
    for t in trials:
        policy = PolicyDiagnostics.read(t)
        if policy is not None and policy.probs is not None:
            policies[t.number] = policy.probs
    tactical_names = [n for n in _latest_distributions(trials) if n not in {h.name for h in heads}]
    nodes: list[TreeNode] = []

    def add(node: TreeNode) -> None:
        node.best_trial = _best_trial(node.trials, direction)
        node.recent_share = sum(t.number >= recent_from for t in node.trials) / n_recent if n_recent else 0.0
        counts = {s.name: 0 for s in _STATES}
        for t in node.trials:
            counts[t.state.name] += 1
        node.state_counts = counts
        nodes.append(node)

    def policy_probability(
        context: Sequence[FrozenTrial], head: StrategicParam, choice: Any
    ) -> tuple[float | None, int | None]:
        idx = head.index_of(choice) if choice is not NOT_SET else None
        if idx is None:
            return None, None
        for t in sorted(context, key=lambda t: -t.number):
            probs = policies.get(t.number, {}).get(head.name)
            if isinstance(probs, list) and len(probs) == head.n_choices:
                return float(probs[idx]), t.number
        return None, None

    def grow(parent: TreeNode, k: int) -> None:
        while k < len(heads) and not any(heads[k].name in t.params for t in parent.trials):
            k += 1  # no trial of this branch sets the parameter: skip the level
        if k == len(heads):
            add(_leaf(parent))
            return
        head = heads[k]
        for choice, group in _group_by_choice(parent.trials, head):
            if choice is NOT_SET:
                label = f"{head.name} {NOT_SET!r}"
            else:
                label = f"{head.name}={_format_value(choice)}"
            p, p_trial = policy_probability(parent.trials, head, choice)
            node = TreeNode(
                id=f"{parent.id}/{label}",
                parent=parent.id,
                label=label,
                param=head.name,
                choice=choice,
                trials=group,
                path=(*parent.path, label),
                depth=parent.depth + 1,
                policy_probability=p,
                policy_trial=p_trial,
            )
            add(node)
            grow(node, k + 1)

    root = TreeNode(id=ROOT_ID, parent="", label=ROOT_ID, param=None, choice=None, trials=trials)
    add(root)
    if trials:
        grow(root, 0)
    return nodes, tactical_names


def _leaf(parent: TreeNode) -> TreeNode:
    return TreeNode(
        id=f"{parent.id}/findings",
        parent=parent.id,
        label="",
        param=None,
        choice=None,
        trials=parent.trials,
        is_leaf=True,
        path=parent.path,
        depth=parent.depth + 1,
    )


def _tactical_summary(trial: FrozenTrial, names: Sequence[str], limit: int | None) -> list[str]:
    parts = [f"{n}={_format_value(trial.params[n])}" for n in names if n in trial.params]
    return parts if limit is None else parts[:limit]


def plot_cascade_tree(study: Study, *, strategic_params: Sequence[str] | None = None) -> go.Figure:
    """The strategy tree the cascade explored, as a clickable icicle chart.

    Levels, left to right: every strategic parameter in the order the sampler decides them, then
    under each full strategy a leaf with the low level's findings there (best value, its trial and
    tactical values). A box's size is the trials spent on it (every COMPLETE, PRUNED, FAIL and
    RUNNING trial); its colour is the rank of the best value reached in it among the boxes of its
    column (darker is better, whatever the direction; grey: no complete trial yet). Hover a box for its trials per
    state,
    its share of all trials and of the last quarter of trials (where the high-level agent
    concentrated lately), its best value, and the high-level policy's last probability of the
    choice. Click a box to zoom into its branch; click the bar at the top to zoom back out.

    Example:

        .. code-block:: python

            from cascaderl_optuna import plot_cascade_tree

            plot_cascade_tree(study).show()

    Args:
        study: A single-objective study, from any storage (``optuna.load_study`` works: the
            figure reads only what is stored).
        strategic_params: The parameters that make up a strategy, in the order of the tree's
            levels. By default every categorical parameter, plus the integers a
            ``CascadeSampler`` treated as strategic (read from its stored decisions).

    Returns:
        A :class:`plotly.graph_objects.Figure`. For a study without trials: an empty figure that
        says so (as optuna's own plots do).

    Raises:
        ValueError: for a multi-objective study, unknown ``strategic_params``, or a study with
            trials but no strategic parameter.
    """
    title = f"Cascade tree of {study.study_name}"  # a short first line: the dashboard's panel is narrow
    nodes, tactical_names = _build_tree(study, strategic_params)
    root = nodes[0]
    if not root.trials:
        return _empty_figure(title)
    trials = root.trials
    # Colour by rank among comparable boxes: the boxes of one column, or all the leaves. (Ranked
    # over the whole tree, every inner box, holding the best of many trials, would be darkest.)
    colors = [_ROOT_COLOR] * len(nodes)
    columns: dict[Any, list[int]] = {}
    for i, node in enumerate(nodes[1:], start=1):
        columns.setdefault("leaves" if node.is_leaf else node.depth, []).append(i)
    for members in columns.values():
        ranked = _rank_colors([nodes[i].best_value for i in members], study.direction)
        for i, color in zip(members, ranked):
            colors[i] = color
    index = {node.id: i for i, node in enumerate(nodes)}
    labels, texts, hovers = [], [], []
    for node in nodes:
        best = node.best_trial
        if node.is_leaf:
            if best is None:
                labels.append("no complete trial")
                texts.append(f"{len(node.trials)} trials")
            else:
                labels.append(f"best {_format_value(node.best_value)}")
                texts.append(
                    f"#{best.number} " + ", ".join(_tactical_summary(best, tactical_names, _MAX_TACTICAL_IN_LABEL))
                )
        else:
            labels.append(node.label)
            text = f"{len(node.trials)} trials"
            if node.policy_probability is not None:
                text += f", p={node.policy_probability:.2f}"
            texts.append(text)
        hovers.append(_hover_fields(node, len(trials), tactical_names))
    has_policy = any(node.policy_probability is not None for node in nodes)
    states = root.state_counts
    counts = ", ".join(f"{states[s.name]} {s.name.lower()}" for s in _STATES if states[s.name])
    better = "lower" if study.direction == StudyDirection.MINIMIZE else "higher"
    lines = [
        f"{title}",
        f"<sup>{len(trials)} trials ({counts})</sup>",
        f"<sup>size: trials spent; colour: rank of the best value in its column ({better} is better: darker); "
        "click a box to expand it</sup>",
    ]
    if not has_policy:
        lines.append(f"<sup>{_NO_POLICY_MESSAGE}</sup>")
    figure = go.Figure(
        go.Icicle(
            # Positions as ids: the figure is stored in the study for the dashboard, and the paths
            # (TreeNode.id) of a deep tree would make up most of its size.
            ids=[str(i) for i in range(len(nodes))],
            parents=[str(index[node.parent]) if node.parent else "" for node in nodes],
            labels=labels,
            values=[len(node.trials) for node in nodes],
            text=texts,
            customdata=hovers,
            branchvalues="total",
            sort=False,
            maxdepth=VISIBLE_LEVELS,
            marker={"colors": colors, "line": {"width": 1, "color": "white"}},
            texttemplate="<b>%{label}</b><br>%{text}",
            hovertemplate=_HOVER,
            pathbar={"visible": True},
            leaf={"opacity": 1.0},  # a leaf's colour is its best value's rank, like its parent's
            tiling={"orientation": "h"},
        )
    )
    figure.update_layout(
        title={"text": "<br>".join(lines), "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        margin={"t": 30 + 16 * len(lines), "l": 10, "r": 10, "b": 10},
    )
    return figure


def _rank_colors(values: Sequence[float | None], direction: StudyDirection) -> list[str]:
    """Direction-aware colours by rank, robust to diverged runs (a loss of 1e9 is just 'worst')."""
    from plotly.colors import sample_colorscale

    distinct = sorted({v for v in values if v is not None})
    if direction == StudyDirection.MAXIMIZE:
        distinct.reverse()
    rank = {v: i for i, v in enumerate(distinct)}  # 0 = best
    n = len(distinct)
    colors = []
    for v in values:
        if v is None:
            colors.append(_NO_COMPLETE_COLOR)
        else:
            quality = 1.0 - rank[v] / (n - 1) if n > 1 else 1.0
            colors.append(sample_colorscale(_COLORSCALE, [0.15 + 0.8 * quality])[0])
    return colors


_HOVER = (
    "<b>%{customdata[0]}</b><br>trials spent: %{value} (%{customdata[1]})<br>"
    "share of the last quarter of trials: %{customdata[2]}%{customdata[3]}<br>"
    "best value: %{customdata[4]}<extra></extra>"
)
"""The boxes' hover text; the per-box fields are short so that the stored figure stays small."""


def _hover_fields(node: TreeNode, n_trials: int, tactical_names: Sequence[str]) -> list[str]:
    counts = node.state_counts
    title = node.label
    if node.is_leaf:  # the full strategy: the leaf's row holds it, but it may be off screen
        title = " › ".join(node.path)
    spent = f"{100 * len(node.trials) / n_trials:.0f}% of all; " + ", ".join(
        f"{counts[s.name]} {s.name.lower()}" for s in _STATES if counts[s.name]
    )
    policy = ""
    if node.param is not None:
        policy = "<br>high-level probability: " + (
            f"{node.policy_probability:.3f} (policy of trial #{node.policy_trial})"
            if node.policy_probability is not None
            else "not recorded"
        )
    best = node.best_trial
    if best is None:
        found = "no complete trial"
    else:
        found = f"{_format_value(node.best_value)} (trial #{best.number})"
        if node.is_leaf:
            found += "".join("<br>  " + part for part in _tactical_summary(best, tactical_names, None))
    return [title, spent, f"{100 * node.recent_share:.0f}%", policy, found]


# -- the strategy history ---------------------------------------------------------------------
MAX_POINTS_PER_CURVE = 300
"""Longer curves are thinned to this many evenly spaced points (the last one always kept): the
figure is stored in the study for the dashboard, and its size should not grow with the study."""


def _thinned(n: int) -> list[int]:
    if n <= MAX_POINTS_PER_CURVE:
        return list(range(n))
    step = (n - 1) / (MAX_POINTS_PER_CURVE - 1)
    return sorted({round(i * step) for i in range(MAX_POINTS_PER_CURVE)})


def plot_strategy_history(
    study: Study,
    *,
    strategic_params: Sequence[str] | None = None,
    window: int | None = None,
) -> go.Figure:
    """How the strategies' shares and the high-level policy's probabilities moved over trials.

    Top: for each choice of a strategic parameter, its share of the last ``window`` trials that
    set the parameter (a trailing window over trial numbers). Bottom: the probability the
    high-level policy gave each choice when it sampled each trial, read from the trials'
    ``cascade:policy`` records; for a parameter after the first, that probability is conditional
    on the trial's earlier strategic choices. A menu picks the parameter. A dotted line marks the
    first trial the high-level agent chose (the end of the space-filling start).

    A reader sees the agent concentrate: the shares and probabilities of the better choices rise,
    those of the worse ones fall to the probability floor (never to zero).

    Args:
        study: Any study (the shares need no objective value; multi-objective studies work too).
        strategic_params: As in :func:`plot_cascade_tree`.
        window: Trials in the trailing window of the share curves; by default an
            eighth of the trials, between 10 and 50.

    Returns:
        A :class:`plotly.graph_objects.Figure`; an empty one for a study without trials.
    """
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    title = f"Strategy history of {study.study_name}"
    trials = _spent_trials(study)
    if not trials:
        return _empty_figure(title)
    heads = resolve_strategic_params(study, strategic_params)
    if not heads:
        raise ValueError(
            f"Study {study.study_name!r} has no strategic parameter: no categorical parameter "
            "with more than one choice, and none named. Name the integer or stepped parameters "
            "that choose a strategy with strategic_params=(...)."
        )
    if window is None:
        window = min(50, max(10, len(trials) // 8))
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}.")
    policies = [(t.number, p.probs) for t in trials if (p := PolicyDiagnostics.read(t)) and p.probs is not None]
    first_agent_trial = policies[0][0] if policies else None

    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=(
            f"share of the last {window} trials",
            "high-level policy probability",
        ),
    )
    palette = qualitative.Plotly
    trace_owner: list[int] = []  # the head each trace shows
    for k, head in enumerate(heads):
        setting = [t for t in trials if head.name in t.params]
        numbers = [t.number for t in setting]
        indices = [head.index_of(t.params[head.name]) for t in setting]
        head_policies = [
            (number, probs[head.name])
            for number, probs in policies
            if isinstance(probs.get(head.name), list) and len(probs[head.name]) == head.n_choices
        ]
        head_policies = [head_policies[i] for i in _thinned(len(head_policies))]
        shown = _thinned(len(setting))
        for c, choice in enumerate(head.choices):
            name = f"{head.name}={_format_value(choice)}"
            style = {
                "name": name,
                "legendgroup": name,
                "line": {"color": palette[c % len(palette)]},
                "visible": k == 0,
            }
            shares = []
            for i in shown:
                recent = indices[max(0, i - window + 1) : i + 1]
                shares.append(round(sum(j == c for j in recent) / len(recent), 4))
            share_hover = f"{name}<br>trial #%{{x}}<br>share %{{y:.2f}}<extra></extra>"
            x = [numbers[i] for i in shown]
            figure.add_trace(
                go.Scatter(x=x, y=shares, mode="lines", hovertemplate=share_hover, **style),
                row=1,
                col=1,
            )
            figure.add_trace(
                go.Scatter(
                    x=[n for n, _ in head_policies],
                    y=[round(float(p[c]), 4) for _, p in head_policies],
                    mode="lines+markers",
                    marker={"size": 3},
                    showlegend=False,
                    hovertemplate=f"{name}<br>trial #%{{x}}<br>p %{{y:.3f}}<extra></extra>",
                    **style,
                ),
                row=2,
                col=1,
            )
            trace_owner += [k, k]
    visibility = [[owner == k for owner in trace_owner] for k in range(len(heads))]
    if len(heads) > 1:
        figure.update_layout(
            updatemenus=[
                {
                    "buttons": [
                        {
                            "label": head.name,
                            "method": "update",
                            "args": [{"visible": visibility[k]}],
                        }
                        for k, head in enumerate(heads)
                    ],
                    "direction": "down",
                    "x": 1.0,
                    "xanchor": "right",
                    "y": 1.12,
                    "yanchor": "bottom",
                    "showactive": True,
                }
            ]
        )
    if first_agent_trial is not None:
        figure.add_vline(x=first_agent_trial, line={"dash": "dot", "color": "grey"})
    else:
        figure.add_annotation(
            text=_NO_POLICY_MESSAGE.replace(": ", ":<br>", 1),
            showarrow=False,
            xref="x2 domain",
            yref="y2 domain",
            x=0.5,
            y=0.5,
            font={"size": 11},
        )
    figure.update_yaxes(range=[-0.02, 1.02])
    figure.update_xaxes(title_text="trial number", row=2, col=1)
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        margin={"t": 80, "l": 50, "r": 10, "b": 40},
        legend={"font": {"size": 10}},
    )
    return figure
