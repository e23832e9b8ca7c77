"""YAML search spaces: what a valid file suggests, and the errors a broken one gets."""

from __future__ import annotations

import textwrap

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna.search_space import SearchSpace
from cascaderl_optuna.search_space import SearchSpaceError


pytest.importorskip("yaml", reason="needs the cli extra: pip install '.[cli]'")

SPACE = textwrap.dedent(
    """\
    description: a fine-tuning space
    parameters:
      optimizer:
        role: strategic
        type: categorical
        choices: [adamw, sgd, adafactor]
      lora_rank:
        role: strategic
        type: int
        low: 4
        high: 32
        log: true
      dropout:
        role: strategic
        type: float
        low: 0.0
        high: 0.2
        step: 0.1
      learning_rate:
        role: tactical
        type: float
        low: 1.0e-5
        high: 1.0
        log: true
      momentum:
        role: tactical
        type: float
        low: 0.0
        high: 0.99
        when: {optimizer: sgd}
      nesterov_steps:
        role: tactical
        type: int
        low: 0
        high: 10
        step: 2
        when: {optimizer: sgd, lora_rank: [4, 8]}
      beta2:
        role: tactical
        type: float
        low: 0.9
        high: 0.999
        when: {optimizer: [adamw, adafactor]}
    """
)


def test_schema_is_read_into_optuna_distributions_in_declaration_order() -> None:
    space = SearchSpace.from_yaml(SPACE)
    assert space.names == ["optimizer", "lora_rank", "dropout", "learning_rate", "momentum", "nesterov_steps", "beta2"]
    d = space.distributions
    assert d["optimizer"] == CategoricalDistribution(["adamw", "sgd", "adafactor"])
    # A strategic log int is suggested as its doubling levels, the values the high level picks among.
    assert d["lora_rank"] == CategoricalDistribution([4, 8, 16, 32])
    assert space["lora_rank"].value_type == "int"
    assert d["dropout"] == FloatDistribution(0.0, 0.2, step=0.1)
    assert d["learning_rate"] == FloatDistribution(1e-5, 1.0, log=True)
    assert d["nesterov_steps"] == IntDistribution(0, 10, step=2)
    # Only the numeric strategic names go to CascadeSampler; categoricals are strategic there anyway.
    assert space.strategic_params == ("lora_rank", "dropout")
    assert space.sampler_kwargs() == {"strategic_params": ("lora_rank", "dropout")}
    assert space.strategic_names == ("optimizer", "lora_rank", "dropout")
    assert space["nesterov_steps"].when == {"optimizer": ("sgd",), "lora_rank": (4, 8)}


def test_file_and_text_give_the_same_space(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    from_file = SearchSpace.from_yaml(path)
    assert from_file.distributions == SearchSpace.from_yaml(SPACE).distributions
    assert from_file.source == str(path)


def test_suggest_follows_the_conditions_and_the_sampler_sees_the_roles() -> None:
    space = SearchSpace.from_yaml(SPACE)
    sampler = CascadeSampler(seed=0, n_startup_trials=4, **space.sampler_kwargs())
    study = optuna.create_study(sampler=sampler)
    seen: list[dict] = []

    def objective(trial: optuna.Trial) -> float:
        params = space.suggest(trial)
        seen.append(params)
        return float(params["learning_rate"]) + (params["optimizer"] != "sgd")

    study.optimize(objective, n_trials=14)
    for params, trial in zip(seen, study.trials):
        assert params == trial.params
        assert ("momentum" in params) == (params["optimizer"] == "sgd")
        assert ("beta2" in params) == (params["optimizer"] in ("adamw", "adafactor"))
        assert ("nesterov_steps" in params) == (params["optimizer"] == "sgd" and params["lora_rank"] in (4, 8))
        assert list(params) == [n for n in space.names if n in params]  # declaration order
    # The sampler's own records name the numeric strategic parameters as heads.
    from cascaderl_optuna._cascade.records import Decision

    records = [Decision.read(t) for t in study.trials[4:]]
    assert all(r is not None and set(r.strategy) == {"optimizer", "lora_rank", "dropout"} for r in records)


def test_a_strategic_number_is_only_ever_suggested_at_its_levels() -> None:
    """The space-filling start draws the raw distribution: it must hold only the levels."""
    from cascaderl_optuna._cascade.coordinates import StrategicParam

    space = SearchSpace.from_yaml(
        "parameters:\n"
        "  hidden_units: {role: strategic, type: int, low: 32, high: 256, log: true}\n"
        "  width: {role: strategic, type: int, low: 24, high: 200, log: true}\n"
        "  lora_rank: {role: strategic, type: int, levels: [4, 8, 16, 24]}\n"
        "  scale: {role: strategic, type: float, levels: [0, 0.5, 2]}\n"
        "  blocks: {role: strategic, type: int, low: 1, high: 3}\n"
        "  learning_rate: {role: tactical, type: float, low: 1.0e-4, high: 1.0, log: true}\n"
        "  tail: {role: tactical, type: float, low: 0, high: 1, when: {lora_rank: [16, 24]}}\n"
    )
    levels = {
        "hidden_units": (32, 64, 128, 256),
        "width": (24, 48, 96, 192, 200),  # high is a level when the doubling misses it
        "lora_rank": (4, 8, 16, 24),
        "scale": (0.0, 0.5, 2.0),
        "blocks": (1, 2, 3),
    }
    assert space.strategic_params == tuple(levels)
    for name, values in levels.items():
        # The levels the sampler's high level picks among are the values the file suggests.
        assert StrategicParam(name, space[name].distribution).choices == values
    assert space["tail"].when == {"lora_rank": (16, 24)}
    for sampler in (
        CascadeSampler(seed=0, n_startup_trials=10, **space.sampler_kwargs()),
        optuna.samplers.TPESampler(seed=0, n_startup_trials=5),
    ):
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: space.suggest(t)["learning_rate"], n_trials=16)
        for name, values in levels.items():
            drawn = [t.params[name] for t in study.trials]
            assert set(drawn) <= set(values), (name, drawn)
        assert all(("tail" in t.params) == (t.params["lora_rank"] >= 16) for t in study.trials)


# Each broken file: (text, line, what the message must say).
BROKEN = [
    (
        "parameters:\n  a: {role: tactical, type: floot, low: 0, high: 1}\n",
        2,
        ["'a'", "'type'", "floot", "float, int or categorical"],
    ),
    (
        "parameters:\n  a:\n    role: tactical\n    type: float\n    low: 1\n    high: 0\n",
        6,
        ["'high'", "must be greater than low"],
    ),
    (
        "parameters:\n  a:\n    role: tactical\n    type: float\n    low: 0\n    high: 1\n    log: true\n",
        5,
        ["'low'", "log-scale", "low > 0"],
    ),
    (
        "parameters:\n  a:\n    role: tactical\n    type: float\n    low: 0.1\n    high: 1\n    log: true\n"
        "    step: 0.1\n",
        8,
        ["'step'", "log"],
    ),
    ("parameters:\n  a: {role: tactical, type: int, low: 0, high: 10, step: 3}\n", 2, ["multiple of step"]),
    ("parameters:\n  a:\n    role: strategic\n    type: categorical\n    choices: []\n", 5, ["'choices'", "empty"]),
    ("parameters:\n  a: {role: strategic, type: categorical, choices: [x, x]}\n", 2, ["listed twice"]),
    (
        "parameters:\n  a: {role: tactical, type: float, low: 0, high: 1, when: {b: x}}\n"
        "  b: {role: strategic, type: categorical, choices: [x]}\n",
        2,
        ["'b'", "not declared before", "move"],
    ),
    ("parameters:\n  a: {role: tactical, type: float, low: 0, high: 1, when: {zz: x}}\n", 2, ["'zz'", "not declared"]),
    (
        "parameters:\n  b: {role: strategic, type: categorical, choices: [x, y]}\n  a:\n    role: tactical\n"
        "    type: float\n    low: 0\n    high: 1\n    when: {b: [x, w]}\n",
        8,
        ["'b' can never be 'w'", "choices are 'x', 'y'"],
    ),
    (
        "parameters:\n  b: {role: tactical, type: float, low: 0, high: 1}\n"
        "  a: {role: tactical, type: float, low: 0, high: 1, when: {b: 0.5}}\n",
        3,
        ["continuous float"],
    ),
    (
        "parameters:\n  a: {role: tactical, type: float, low: 0, high: 1}\n"
        "  b: {role: tactical, type: float, low: 0, high: 1}\n  a: {role: tactical, type: float, low: 0, high: 2}\n",
        4,
        ["duplicate key 'a'", "first on line 2"],
    ),
    (
        "parameters:\n  a:\n    role: tactical\n    type: float\n    type: int\n    low: 0\n    high: 1\n",
        5,
        ["duplicate key 'type'"],
    ),
    (
        "parameters:\n  a:\n    role: tactical\n    type: float\n    low: 0\n    high: 1\n    lowe: 0\n",
        7,
        ["unknown field 'lowe'", "role, type, low"],
    ),
    (
        "parameters:\n  a: {role: tactical, type: categorical, choices: [1, 2]}\n",
        2,
        ["cannot be tactical", "role: strategic"],
    ),
    (
        "parameters:\n  a: {role: strategic, type: float, low: 0, high: 1}\n",
        2,
        ["continuous float cannot be strategic", "step"],
    ),
    ("parameters:\n  a: {role: strategic, type: int, low: 0, high: 1000}\n", 2, ["1001 levels", "at most 64"]),
    (
        "parameters:\n  a: {role: manager, type: float, low: 0, high: 1}\n",
        2,
        ["unknown role 'manager'", "strategic", "tactical"],
    ),
    (
        "parameters:\n  a:\n    role: tactical\n    type: int\n    levels: [1, 2]\n",
        5,
        ["'levels' is for a strategic parameter"],
    ),
    (
        "parameters:\n  a:\n    role: strategic\n    type: int\n    low: 1\n    levels: [1, 2]\n",
        5,
        ["'low' cannot be combined with 'levels'"],
    ),
    (
        "parameters:\n  a:\n    role: strategic\n    type: int\n    levels: [1, 2.5]\n",
        5,
        ["'levels'", "expected an integer", "2.5"],
    ),
    ("parameters:\n  a:\n    role: strategic\n    type: int\n    levels: [4, 8, 4]\n", 5, ["4 is listed twice"]),
    ("parameters:\n  a:\n    role: strategic\n    type: float\n    levels: []\n", 5, ["list of levels is empty"]),
    (
        "parameters:\n  a:\n    role: strategic\n    type: float\n    levels: 0.5\n",
        5,
        ["expected a list such as [4, 8, 16]"],
    ),
    (
        "parameters:\n  a: {role: strategic, type: categorical, choices: [x], levels: [1]}\n",
        2,
        ["'levels' does not apply to a categorical"],
    ),
    (
        "parameters:\n  a: {role: strategic, type: int, levels: [" + ", ".join(map(str, range(65))) + "]}\n",
        2,
        ["65 levels", "at most 64"],
    ),
    ("parameters:\n  a: {type: float, low: 0, high: 1}\n", 2, ["missing 'role:'"]),
    ("parameters:\n  a: {role: tactical, type: float, high: 1}\n", 2, ["missing 'low:'"]),
    ("parameters:\n  a: {role: tactical, type: float, low: '01e-5', high: 1}\n", 2, ["expected a number", "'01e-5'"]),
    ("parameters:\n  a: {role: tactical, type: int, low: 0.5, high: 3}\n", 2, ["expected an integer"]),
    (
        "parameters:\n  a: {role: tactical, type: float, low: 0, high: 1, choices: [1]}\n",
        2,
        ["'choices' does not apply"],
    ),
    ("parameters:\n  a: {role: strategic, type: categorical, choices: [x], low: 0}\n", 2, ["'low' does not apply"]),
    ("parameters:\n  a: {role: tactical, type: float, low: 0, high: 1, log: maybe}\n", 2, ["true or false"]),
    ("params:\n  a: {role: tactical, type: float, low: 0, high: 1}\n", 1, ["unknown key 'params'", "parameters"]),
    ("parameters:\n  a: [1, 2\n", 3, ["not valid YAML"]),
    ("parameters: {}\n", 1, ["no parameters"]),
    ("parameters:\n  a: !!python/object:os.system {}\n", 2, ["tag", "python/object", "not allowed"]),
    ("parameters:\n  a: {role: !!python/name:os.system tactical, type: float, low: 0, high: 1}\n", 2, ["not allowed"]),
]


@pytest.mark.parametrize("text,line,needles", BROKEN)
def test_broken_files_name_the_file_line_and_key(tmp_path, text: str, line: int, needles: list[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_yaml(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    for needle in needles:
        assert needle in message, message


def test_unquoted_exponent_is_a_number_but_quoted_text_is_not() -> None:
    # YAML 1.1 (PyYAML) reads 1e-5 as the text "1e-5"; users mean the number.
    space = SearchSpace.from_yaml(
        "parameters:\n  lr: {role: tactical, type: float, low: 1e-5, high: 2E-1, log: true}\n"
    )
    assert space["lr"].distribution == FloatDistribution(1e-5, 0.2, log=True)
    space = SearchSpace.from_yaml("parameters:\n  tag: {role: strategic, type: categorical, choices: ['1e-5', 1e-5]}\n")
    assert space["tag"].distribution.choices == ("1e-5", 1e-5)


def test_the_readme_example_is_a_valid_space() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### YAML search spaces", 1)[1]
    text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    space = SearchSpace.from_yaml(text)
    assert space.strategic_params == ("lora_rank",)
    assert space["learning_rate"].distribution == FloatDistribution(1e-5, 1.0, log=True)
    assert space["beta2"].when == {"optimizer": ("adamw", "adafactor")}


def test_missing_file_says_what_to_give(tmp_path) -> None:
    with pytest.raises(SearchSpaceError, match="no such search space file"):
        SearchSpace.from_yaml(tmp_path / "nope.yaml")


# -- property: any valid schema suggests in-range values that satisfy the conditions -----------------
@st.composite
def schemas(draw):  # type: ignore[no-untyped-def]
    """A random valid space: numeric and categorical parameters, some conditional on earlier ones."""
    n = draw(st.integers(1, 6))
    lines = ["parameters:"]
    declared: list[tuple[str, str, list]] = []  # (name, type, possible condition values)
    for i in range(n):
        name = f"p{i}"
        kind = draw(st.sampled_from(["float", "int", "categorical", "levels"]))
        lines.append(f"  {name}:")
        if kind == "levels":
            values = draw(st.lists(st.integers(-100, 1000), min_size=1, max_size=6, unique=True))
            lines += ["    role: strategic", "    type: int", f"    levels: [{', '.join(map(str, values))}]"]
        elif kind == "categorical":
            k = draw(st.integers(1, 4))
            choices = [f"c{j}" for j in range(k)]
            lines += ["    role: strategic", "    type: categorical", f"    choices: [{', '.join(choices)}]"]
            values = choices
        elif kind == "int":
            low = draw(st.integers(-50, 50))
            step = draw(st.integers(1, 5))
            high = low + step * draw(st.integers(1, 20))
            role = draw(st.sampled_from(["strategic", "tactical"]))
            lines += [f"    role: {role}", "    type: int", f"    low: {low}", f"    high: {high}", f"    step: {step}"]
            values = list(range(low, high + 1, step))
        else:
            log = draw(st.booleans())
            low = draw(st.floats(1e-6, 10.0)) if log else draw(st.floats(-100.0, 100.0))
            high = low * draw(st.floats(1.5, 1e4)) if log else low + draw(st.floats(0.01, 100.0))
            lines += [
                "    role: tactical",
                "    type: float",
                f"    low: {low!r}",
                f"    high: {high!r}",
                f"    log: {str(log).lower()}",
            ]
            values = []
        conditional = [d for d in declared if d[2]]
        if conditional and draw(st.booleans()):
            parent, _, pvalues = draw(st.sampled_from(conditional))
            allowed = draw(st.lists(st.sampled_from(pvalues), min_size=1, max_size=3, unique=True))
            lines.append(f"    when: {{{parent}: [{', '.join(map(str, allowed))}]}}")
        declared.append((name, kind, values))
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=schemas(), sampler_name=st.sampled_from(["random", "tpe", "cascade"]))
def test_any_valid_schema_suggests_in_range_values_that_satisfy_the_conditions(text: str, sampler_name: str) -> None:
    space = SearchSpace.from_yaml(text)
    sampler = {
        "random": lambda: optuna.samplers.RandomSampler(seed=0),
        "tpe": lambda: optuna.samplers.TPESampler(seed=0, n_startup_trials=2),
        "cascade": lambda: CascadeSampler(seed=0, n_startup_trials=2, **space.sampler_kwargs()),
    }[sampler_name]()
    study = optuna.create_study(sampler=sampler)
    for _ in range(4):
        trial = study.ask()
        params = space.suggest(trial)
        assert params == trial.params
        for p in space.parameters:
            expected_active = all(parent in params and params[parent] in allowed for parent, allowed in p.when.items())
            assert (p.name in params) == expected_active, (p.name, params, text)
            if p.name in params:
                assert p.distribution._contains(p.distribution.to_internal_repr(params[p.name]))
        study.tell(trial, float(len(params)))
