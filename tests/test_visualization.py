"""The cascade tree and the strategy history, on planted studies whose figures are known."""

from __future__ import annotations

import json
import math
import re

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import create_trial
from optuna.trial import TrialState
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna import plot_cascade_tree
from cascaderl_optuna import plot_strategy_history
from cascaderl_optuna._cascade.records import DECISION_KEY
from cascaderl_optuna._cascade.records import POLICY_KEY
from cascaderl_optuna._cascade.records import PolicyDiagnostics
from cascaderl_optuna.integrations.visualization import cascade_tree_nodes
from cascaderl_optuna.integrations.visualization import MAX_POINTS_PER_CURVE
from cascaderl_optuna.integrations.visualization import NOT_SET
from cascaderl_optuna.integrations.visualization import resolve_strategic_params


OPT = CategoricalDistribution(["adamw", "sgd"])
SCHED = CategoricalDistribution(["cosine", "constant"])
LR = FloatDistribution(1e-5, 1.0, log=True)


def _policy(optimizer: list[float], scheduler: list[float]) -> dict[str, str]:
    return {POLICY_KEY: json.dumps({"probs": {"optimizer": optimizer, "scheduler": scheduler}})}


def _planted(direction: str = "minimize") -> optuna.Study:
    """Seven trials that ran (every state) and one WAITING; policy records on trials 3, 5, 6."""
    study = optuna.create_study(direction=direction, study_name="planted")
    rows = [
        ("adamw", "cosine", 1e-3, TrialState.COMPLETE, 1.0, {}),
        ("adamw", "cosine", 1e-4, TrialState.COMPLETE, 0.5, {}),
        ("adamw", "constant", 1e-3, TrialState.PRUNED, None, {}),
        ("sgd", "cosine", 0.1, TrialState.COMPLETE, 2.0, _policy([0.4, 0.6], [0.7, 0.3])),
        ("sgd", "constant", 0.05, TrialState.FAIL, None, {}),
        ("sgd", "constant", 0.3, TrialState.COMPLETE, 0.2, _policy([0.3, 0.7], [0.25, 0.75])),
        ("adamw", "cosine", 1e-3, TrialState.RUNNING, None, _policy([0.2, 0.8], [0.9, 0.1])),
    ]
    for opt, sched, lr, state, value, attrs in rows:
        study.add_trial(
            create_trial(
                params={"optimizer": opt, "scheduler": sched, "learning_rate": lr},
                distributions={"optimizer": OPT, "scheduler": SCHED, "learning_rate": LR},
                value=value,
                state=state,
                system_attrs=attrs,
            )
        )
    study.enqueue_trial({"optimizer": "adamw"})  # WAITING: has spent nothing, not counted
    return study


def _by_id(study: optuna.Study, **kwargs) -> dict:
    return {node.id: node for node in cascade_tree_nodes(study, **kwargs)}


A, S = "all trials/optimizer=adamw", "all trials/optimizer=sgd"


def test_planted_tree_has_exactly_the_expected_boxes_sizes_and_findings() -> None:
    study = _planted()
    nodes = cascade_tree_nodes(study)
    expected = {
        # id: (parent, trials spent, best value, best trial, policy probability, policy trial)
        "all trials": ("", 7, 0.2, 5, None, None),
        A: ("all trials", 4, 0.5, 1, 0.2, 6),
        f"{A}/scheduler=cosine": (A, 3, 0.5, 1, 0.9, 6),
        f"{A}/scheduler=cosine/findings": (f"{A}/scheduler=cosine", 3, 0.5, 1, None, None),
        f"{A}/scheduler=constant": (A, 1, None, None, 0.1, 6),
        f"{A}/scheduler=constant/findings": (f"{A}/scheduler=constant", 1, None, None, None, None),
        S: ("all trials", 3, 0.2, 5, 0.8, 6),
        # In the SGD context the latest policy is trial 5's (trial 6 chose AdamW).
        f"{S}/scheduler=cosine": (S, 1, 2.0, 3, 0.25, 5),
        f"{S}/scheduler=cosine/findings": (f"{S}/scheduler=cosine", 1, 2.0, 3, None, None),
        f"{S}/scheduler=constant": (S, 2, 0.2, 5, 0.75, 5),
        f"{S}/scheduler=constant/findings": (f"{S}/scheduler=constant", 2, 0.2, 5, None, None),
    }
    assert [n.id for n in nodes] == list(expected)  # parents first, choices in distribution order
    for node in nodes:
        parent, spent, best, best_number, p, p_trial = expected[node.id]
        assert node.parent == parent
        assert len(node.trials) == spent
        assert node.best_value == best
        assert (node.best_trial.number if node.best_trial else None) == best_number
        assert node.policy_probability == p
        assert node.policy_trial == p_trial
    ids = {n.id: n for n in nodes}
    assert ids[f"{S}/scheduler=constant"].state_counts == {"COMPLETE": 1, "PRUNED": 0, "FAIL": 1, "RUNNING": 0}
    assert ids["all trials"].state_counts == {"COMPLETE": 4, "PRUNED": 1, "FAIL": 1, "RUNNING": 1}
    # The last quarter of the 7 trials is trials 5 and 6: one SGD, one AdamW.
    assert ids[A].recent_share == 0.5 and ids[f"{S}/scheduler=cosine"].recent_share == 0.0

    figure = plot_cascade_tree(study)
    icicle = figure.data[0]
    assert icicle.type == "icicle"
    position = {node_id: str(i) for i, node_id in enumerate(expected)}
    assert list(icicle.ids) == list(position.values())
    assert list(icicle.parents) == [position.get(v[0], "") for v in expected.values()]
    assert list(icicle.values) == [v[1] for v in expected.values()]
    assert icicle.branchvalues == "total"
    hover = {node_id: icicle.customdata[int(i)] for node_id, i in position.items()}
    title, spent, recent, policy, found = hover[f"{A}/scheduler=cosine/findings"]
    assert title == "optimizer=adamw › scheduler=cosine"
    assert found == "0.5 (trial #1)<br>  learning_rate=0.0001"
    assert hover[f"{A}/scheduler=constant/findings"][4] == "no complete trial"
    assert hover[f"{S}/scheduler=cosine"][3] == "<br>high-level probability: 0.250 (policy of trial #5)"
    assert hover[f"{S}/scheduler=constant"][1] == "29% of all; 1 complete, 1 fail"
    assert hover[A][2] == "50%"  # of the last quarter of trials
    labels = {node_id: icicle.labels[int(i)] for node_id, i in position.items()}
    assert labels[A] == "optimizer=adamw"
    assert labels[f"{S}/scheduler=constant/findings"] == "best 0.2"
    assert "7 trials (4 complete, 1 pruned, 1 fail, 1 running)" in figure.layout.title.text


def _darkness(color: str) -> float:
    r, g, b = (float(v) for v in re.findall(r"[\d.]+", color)[:3])
    return -(0.299 * r + 0.587 * g + 0.114 * b)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_best_values_and_colours_follow_the_direction(direction: str) -> None:
    study = _planted(direction)
    ids = _by_id(study)
    figure = plot_cascade_tree(study)
    colors = dict(zip(ids, figure.data[0].marker.colors))  # the figure's boxes are in node order
    leaves = {i: ids[i].best_value for i in ids if i.endswith("/findings") and ids[i].best_value is not None}
    if direction == "minimize":
        assert ids["all trials"].best_value == 0.2 and ids[A].best_trial.number == 1
        best_leaf = f"{S}/scheduler=constant/findings"
    else:
        assert ids["all trials"].best_value == 2.0 and ids[A].best_trial.number == 0
        best_leaf = f"{S}/scheduler=cosine/findings"
    worst_leaf = max(leaves, key=lambda i: leaves[i] * (1 if direction == "minimize" else -1))
    assert best_leaf == (min if direction == "minimize" else max)(leaves, key=leaves.get)
    assert _darkness(colors[best_leaf]) > _darkness(colors[worst_leaf])
    assert ("lower is better" if direction == "minimize" else "higher is better") in (figure.layout.title.text)
    # Boxes are ranked within their column: SGD's best beats AdamW's in both directions here.
    assert _darkness(colors[S]) > _darkness(colors[A])
    # No complete trial: grey, whatever the direction.
    assert colors[f"{A}/scheduler=constant/findings"] == "#d9d9d9"


def test_conditional_heads_skip_the_level_or_get_a_not_set_box() -> None:
    study = optuna.create_study()
    momentum = CategoricalDistribution(["nesterov", "classic"])
    rows = [("adamw", None), ("adamw", None), ("sgd", "nesterov"), ("sgd", "classic"), ("sgd", None)]
    for i, (opt, kind) in enumerate(rows):
        params = {"optimizer": opt, "learning_rate": 1e-3}
        dists = {"optimizer": OPT, "learning_rate": LR}
        if kind is not None:
            params["momentum_kind"], dists["momentum_kind"] = kind, momentum
        study.add_trial(create_trial(params=params, distributions=dists, value=float(i)))
    assert [h.name for h in resolve_strategic_params(study)] == ["optimizer", "momentum_kind"]
    assert list(_by_id(study)) == [
        "all trials",
        A,
        f"{A}/findings",  # no AdamW trial sets momentum_kind: the level is skipped
        S,
        f"{S}/momentum_kind=nesterov",
        f"{S}/momentum_kind=nesterov/findings",
        f"{S}/momentum_kind=classic",
        f"{S}/momentum_kind=classic/findings",
        f"{S}/momentum_kind (not set)",  # some SGD trials set it, this one did not
        f"{S}/momentum_kind (not set)/findings",
    ]
    not_set = _by_id(study)[f"{S}/momentum_kind (not set)"]
    assert [t.number for t in not_set.trials] == [4] and not_set.choice is NOT_SET


def test_strategic_integers_come_from_decisions_the_sampler_or_the_caller() -> None:
    rank = IntDistribution(4, 64, log=True)
    study = optuna.create_study()
    for i, r in enumerate([4, 16, 16]):
        study.add_trial(
            create_trial(
                params={"optimizer": "adamw", "lora_rank": r, "learning_rate": 1e-3},
                distributions={"optimizer": OPT, "lora_rank": rank, "learning_rate": LR},
                value=float(i),
            )
        )
    assert [h.name for h in resolve_strategic_params(study)] == ["optimizer"]
    # A cascade decision record names lora_rank as a head: read from storage.
    study.add_trial(
        create_trial(
            params={"optimizer": "adamw", "lora_rank": 16, "learning_rate": 1e-3},
            distributions={"optimizer": OPT, "lora_rank": rank, "learning_rate": LR},
            value=3.0,
            system_attrs={DECISION_KEY: json.dumps({"strategy": {"optimizer": 0, "lora_rank": 2}})},
        )
    )
    assert [h.name for h in resolve_strategic_params(study)] == ["optimizer", "lora_rank"]
    assert "all trials/optimizer=adamw/lora_rank=16/findings" in _by_id(study)
    # The caller picks the levels and their order.
    ids = _by_id(study, strategic_params=["lora_rank", "optimizer"])
    assert "all trials/lora_rank=4/optimizer=adamw" in ids
    # The sampler object, when at hand, names its strategic integers too.
    plain = optuna.create_study(sampler=CascadeSampler(strategic_params=("lora_rank",)))
    plain.add_trials(study.trials[:1])
    assert [h.name for h in resolve_strategic_params(plain)] == ["optimizer", "lora_rank"]


def test_bad_input_gets_a_clear_error() -> None:
    study = _planted()
    with pytest.raises(ValueError, match=r"\['batch'\] are not parameters .*'learning_rate'"):
        plot_cascade_tree(study, strategic_params=["batch"])
    with pytest.raises(ValueError, match="sequence of parameter names"):
        plot_cascade_tree(study, strategic_params="optimizer")
    with pytest.raises(ValueError, match="continuous"):
        plot_cascade_tree(study, strategic_params=["learning_rate"])
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        plot_strategy_history(study, window=0)

    multi = optuna.create_study(directions=["minimize", "minimize"])
    multi.optimize(lambda t: (t.suggest_categorical("c", ["a", "b"]) == "a", 1.0), n_trials=2)
    with pytest.raises(ValueError, match="single-objective studies only"):
        plot_cascade_tree(multi)

    numbers_only = optuna.create_study()
    numbers_only.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with pytest.raises(ValueError, match="no strategic parameter.*strategic_params"):
        plot_cascade_tree(numbers_only)
    with pytest.raises(ValueError, match="no strategic parameter"):
        plot_strategy_history(numbers_only)


@pytest.mark.parametrize("plot", [plot_cascade_tree, plot_strategy_history])
def test_a_study_without_trials_gives_an_empty_figure_that_says_so(plot) -> None:
    figure = plot(optuna.create_study(study_name="empty"))
    assert len(figure.data) == 0
    assert [a.text for a in figure.layout.annotations] == ["No trials yet."]
    assert "empty" in figure.layout.title.text


def test_strategy_history_shares_probabilities_and_menu() -> None:
    study = _planted()
    figure = plot_strategy_history(study, window=2)
    # Two heads x two choices x (share, probability) traces; the optimizer's visible first.
    assert len(figure.data) == 8
    share_adamw, prob_adamw, share_sgd, prob_sgd = figure.data[:4]
    assert share_adamw.name == "optimizer=adamw" and share_adamw.visible
    assert list(share_adamw.x) == [0, 1, 2, 3, 4, 5, 6]
    # optimizer per trial: a a a s s s a -> AdamW's share of the last two trials.
    assert list(share_adamw.y) == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.5]
    assert [s + a for s, a in zip(share_sgd.y, share_adamw.y)] == [1.0] * 7
    assert list(prob_sgd.x) == [3, 5, 6] and list(prob_sgd.y) == [0.6, 0.7, 0.8]
    assert not figure.data[4].visible  # scheduler traces hidden until picked in the menu
    buttons = figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["optimizer", "scheduler"]
    assert buttons[1].args[0]["visible"] == [False] * 4 + [True] * 4
    # A dotted line where the high level first chose (trial 3).
    assert [s.x0 for s in figure.layout.shapes] == [3, 3]  # in both panels


def test_studies_of_other_samplers_are_drawn_and_say_probabilities_are_absent() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(
        lambda t: t.suggest_float("x", 0, 1) + (t.suggest_categorical("c", ["a", "b"]) == "a"),
        n_trials=12,
    )
    tree = plot_cascade_tree(study)
    assert "No high-level policy records" in tree.layout.title.text
    assert sum(v for parent, v in zip(tree.data[0].parents, tree.data[0].values) if parent == "0") == 12
    history = plot_strategy_history(study)
    assert any("No high-level policy records" in a.text for a in history.layout.annotations)
    assert all(len(trace.x) == 0 for trace in history.data[1::2])


def test_a_cascade_study_read_back_from_storage_alone(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'cascade.db'}"

    def objective(trial: optuna.Trial) -> float:
        opt = trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
        lr = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
        best = {"adamw": 3e-4, "sgd": 0.1, "adafactor": 1e-3}[opt]
        return (math.log10(lr) - math.log10(best)) ** 2 + {"adamw": 0, "sgd": 0.5, "adafactor": 0.2}[opt]

    study = optuna.create_study(storage=url, study_name="c", sampler=CascadeSampler(seed=0, n_startup_trials=5))
    study.optimize(objective, n_trials=12)
    loaded = optuna.load_study(study_name="c", storage=url)  # a TPE sampler: storage only
    nodes = {n.id: n for n in cascade_tree_nodes(loaded)}
    first_level = [n for n in nodes.values() if n.parent == "all trials"]
    assert sum(len(n.trials) for n in first_level) == 12
    # The probabilities are the ones the sampler stored with its last decision.
    last = loaded.trials[-1]
    probs = PolicyDiagnostics.read(last).probs["optimizer"]
    choices = ["adamw", "sgd", "adafactor"]
    assert [n.policy_probability for n in first_level] == [probs[choices.index(n.choice)] for n in first_level]
    assert all(n.policy_trial == last.number for n in first_level)
    assert loaded.best_value == nodes["all trials"].best_value


def test_long_histories_are_thinned_to_a_bounded_figure() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: float(t.suggest_categorical("c", ["a", "b"]) == "a"), n_trials=700)
    figure = plot_strategy_history(study)
    share_a = figure.data[0]
    assert len(share_a.x) == MAX_POINTS_PER_CURVE
    assert share_a.x[0] == 0 and share_a.x[-1] == 699  # the ends are kept
    assert list(share_a.x) == sorted(set(share_a.x))
    # A thinned point is the share of the full window there, not of the thinned points.
    kinds = [t.params["c"] for t in study.trials]
    n = share_a.x[150]
    window = figure.layout.annotations[0].text.split()[-2]
    assert share_a.y[150] == round(kinds[n - int(window) + 1 : n + 1].count("a") / int(window), 4)
