"""Search spaces written in YAML: each parameter labelled strategic or tactical, with conditions.

A search space file names every parameter once, in the order the objective suggests them::

    parameters:
      optimizer:
        role: strategic          # picked by the high-level agent
        type: categorical
        choices: [adamw, sgd, adafactor]
      hidden_units:
        role: strategic          # an integer the high-level agent treats as a choice
        type: int
        low: 32
        high: 256
        log: true                # levels 32, 64, 128, 256: the only values ever suggested
      lora_rank:
        role: strategic
        type: int
        levels: [4, 8, 16, 24]   # exactly these values
      learning_rate:
        role: tactical           # tuned by the low-level agent of the chosen strategy
        type: float
        low: 1.0e-5
        high: 1.0
        log: true
      momentum:
        role: tactical
        type: float
        low: 0.0
        high: 0.99
        when: {optimizer: sgd}   # only suggested when optimizer is sgd
      warmup_ratio:
        role: tactical
        type: float
        low: 0.0
        high: 0.3
        when: {scheduler: [warmup_cosine, constant_warmup]}   # any of these values

Fields of a parameter: ``role`` (``strategic`` or ``tactical``, required), ``type`` (``float``,
``int`` or ``categorical``, required), ``low``/``high`` (numbers), ``log`` (default false),
``step`` (grid spacing), ``levels`` (a strategic int or float: the list of its values, instead of
low/high), ``choices`` (categorical only), ``when`` (conditions: a mapping from an *earlier*
parameter to one allowed value or a list of them; several entries must all hold; a parameter
whose parent was itself skipped is skipped too) and ``description`` (free text).

The levels of a strategic number are the values the high-level agent chooses among: every value
of an int range (``low``..``high`` by ``step``), every point of a stepped float, the doubling
levels ``low, 2 low, 4 low, ...`` (and ``high``) of a ``log: true`` int, or the ``levels`` list.
A strategic number is suggested so that *only* its levels are ever drawn, by every sampler,
including the space-filling trials CascadeSampler starts with: an int range or a stepped float
through its own optuna distribution (whose values are the levels), a log int or a ``levels``
list as a categorical of the numbers. Why: optuna's log-scale ``IntDistribution(32, 256,
log=True)`` holds every integer in between, so the start-up design (optuna's ``QMCSampler`` over
the raw distribution) drew values such as 53, 15, 17, 26 while the high level only ever picks
32, 64, 128, 256; a start-up trial off the levels tells the high level nothing about that
parameter, so most of the start-up was lost to it. The price: samplers other than the cascade
see such a parameter as unordered choices.

Why the roles matter: :class:`~cascaderl_optuna.CascadeSampler` makes every categorical parameter
a strategic choice of its high-level agent, and any integer or stepped float whose name it gets in
``strategic_params``; the rest are tactical numbers of its low-level agents.
:attr:`SearchSpace.strategic_params` gives exactly the numeric names labelled strategic, so the
file is the one place the split is decided. A categorical labelled ``tactical`` is rejected rather
than silently promoted: the sampler would treat it as strategic anyway, and the file would lie.
Other samplers ignore the roles.

The file is read with PyYAML's safe loader (no Python objects can be constructed from it), through
its node tree so that every error names the file, the line and the key, and says how to fix it.
Duplicate keys, which ``yaml.safe_load`` silently collapses to the last, are errors, and so is any
tag (``!!python/...``). An unquoted ``1e-5``, which YAML 1.1 reads as text, is read as the number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
import math
import os
from pathlib import Path
import re
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import BaseTrial

from cascaderl_optuna._cascade.coordinates import MAX_STRATEGIC_LEVELS
from cascaderl_optuna._cascade.coordinates import strategic_choices


ROLES = ("strategic", "tactical")
TYPES = ("float", "int", "categorical")
FIELDS = ("role", "type", "low", "high", "log", "step", "levels", "choices", "when", "description")
_TOP_LEVEL_FIELDS = ("parameters", "description")
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null"))


class SearchSpaceError(ValueError):
    """A search space file that cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a :class:`SearchSpace`: its distribution, role and condition."""

    name: str
    role: str
    distribution: BaseDistribution
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    description: str = ""
    value_type: str = ""
    """The file's ``type``. A strategic number suggested as its levels (``log: true`` int,
    ``levels:``) has a categorical ``distribution`` but keeps ``int`` or ``float`` here."""

    def active(self, values: Mapping[str, Any]) -> bool:
        """Whether the condition holds for the values suggested so far (absent parent: no)."""
        return all(
            name in values and any(_same(values[name], v) for v in allowed) for name, allowed in self.when.items()
        )


class SearchSpace:
    """An ordered, validated search space with strategic/tactical roles and conditions.

    Example:

        .. code-block:: python

            import optuna
            from cascaderl_optuna import CascadeSampler, SearchSpace

            space = SearchSpace.from_yaml("space.yaml")
            sampler = CascadeSampler(seed=0, **space.sampler_kwargs())


            def objective(trial):
                params = space.suggest(trial)  # {"optimizer": "sgd", "momentum": 0.9, ...}
                return train(**params)


            optuna.create_study(sampler=sampler).optimize(objective, n_trials=50)

    Args:
        parameters: The parameters in suggestion order (usually built by :meth:`from_yaml`).
        source: Where the space came from (a file name), for messages.
    """

    def __init__(self, parameters: list[Parameter], source: str = "<search space>") -> None:
        self.parameters = list(parameters)
        self.source = source
        self._by_name = {p.name: p for p in self.parameters}
        if len(self._by_name) != len(self.parameters):
            raise SearchSpaceError(f"{source}: parameter names must be unique.")

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path_or_text: str | os.PathLike[str]) -> SearchSpace:
        """Read a space from a YAML file, or from YAML text (anything containing a newline).

        Raises:
            SearchSpaceError: The file is missing, is not YAML, or breaks the schema (the
                message gives the file, the line and the key, and what to change).
        """
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - the cli extra brings it
            raise ImportError("Reading YAML search spaces needs PyYAML: pip install cascaderl-optuna[cli]") from exc
        if isinstance(path_or_text, os.PathLike) or "\n" not in str(path_or_text):
            path = Path(path_or_text)
            source = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise SearchSpaceError(
                    f"{source}: no such search space file. Give the path of a YAML file "
                    "(see the 'YAML search spaces' section of the README for the format)."
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise SearchSpaceError(f"{source}: cannot read the search space file ({exc}).") from None
        else:
            source, text = "<yaml text>", str(path_or_text)
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark is not None else source
            problem = getattr(exc, "problem", None) or str(exc)
            raise SearchSpaceError(f"{where}: not valid YAML: {problem}.") from None
        return _Reader(source, yaml).read(root)

    # -- using ----------------------------------------------------------------------------
    def suggest(self, trial: BaseTrial) -> dict[str, Any]:
        """Suggest every active parameter, in declaration order; returns ``{name: value}``.

        A parameter whose ``when`` condition fails (or whose parent was itself skipped) is not
        suggested and is absent from the result, so it never appears in the trial's params.
        """
        values: dict[str, Any] = {}
        for p in self.parameters:
            if not p.active(values):
                continue
            d = p.distribution
            if isinstance(d, CategoricalDistribution):
                values[p.name] = trial.suggest_categorical(p.name, d.choices)
            elif isinstance(d, IntDistribution):
                values[p.name] = trial.suggest_int(p.name, d.low, d.high, step=d.step, log=d.log)
            else:
                assert isinstance(d, FloatDistribution)
                values[p.name] = trial.suggest_float(p.name, d.low, d.high, step=d.step, log=d.log)
        return values

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        """Every parameter's optuna distribution, in declaration order."""
        return {p.name: p.distribution for p in self.parameters}

    @property
    def strategic_params(self) -> tuple[str, ...]:
        """Numeric (int or stepped float) parameters labelled strategic.

        Pass them to ``CascadeSampler(strategic_params=...)``; categorical parameters need no
        naming, the sampler makes every one of them strategic. A number suggested as its levels
        (a categorical distribution of numbers) is named too: the sampler would treat it as
        strategic anyway, and the list stays what the file says.
        """
        return tuple(
            p.name
            for p in self.parameters
            if p.role == "strategic"
            and (p.value_type in ("int", "float") or not isinstance(p.distribution, CategoricalDistribution))
        )

    @property
    def strategic_names(self) -> tuple[str, ...]:
        """Every parameter labelled strategic (categoricals included), in declaration order."""
        return tuple(p.name for p in self.parameters if p.role == "strategic")

    def sampler_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~cascaderl_optuna.CascadeSampler` from the roles."""
        return {"strategic_params": self.strategic_params}

    def __getitem__(self, name: str) -> Parameter:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __repr__(self) -> str:
        return f"SearchSpace({self.names!r}, source={self.source!r})"


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps YAML's ``true`` apart from ``1`` (``True == 1`` in Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _describe(value: Any) -> str:
    return "null" if value is None else repr(value)


class _Reader:
    """Walks the composed YAML node tree; every value keeps the line it came from."""

    def __init__(self, source: str, yaml: Any) -> None:
        self.source = source
        self.yaml = yaml
        self.constructor = yaml.SafeLoader("")

    def fail(self, node: Any, where: str, message: str) -> SearchSpaceError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return SearchSpaceError(f"{self.source}{line}: {where}: {message}")

    def mapping(self, node: Any, where: str) -> list[tuple[str, Any, Any]]:
        """``[(key, key node, value node)]`` of a mapping node; duplicate keys are errors."""
        if not isinstance(node, self.yaml.MappingNode):
            raise self.fail(node, where, f"expected a mapping (key: value lines), got {self.kind(node)}.")
        seen: dict[str, int] = {}
        out = []
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, where, f"keys must be names (text), got {_describe(key)}.")
            if key in seen:
                raise self.fail(
                    key_node,
                    where,
                    f"duplicate key {key!r} (first on line {seen[key]}). Each key may appear once: "
                    "remove or rename one of them.",
                )
            seen[key] = key_node.start_mark.line + 1
            out.append((key, key_node, value_node))
        return out

    def value(self, node: Any) -> Any:
        v = self.constructor.construct_object(node, deep=True)
        if isinstance(v, str) and node.style is None and _EXPONENT_FLOAT.fullmatch(v):
            return float(v)  # YAML 1.1 reads an unquoted 1e-5 as text; YAML 1.2 and users, as a number
        return v

    def kind(self, node: Any) -> str:
        if isinstance(node, self.yaml.MappingNode):
            return "a mapping"
        if isinstance(node, self.yaml.SequenceNode):
            return "a list"
        return f"the value {_describe(self.value(node))}"

    def scalar(self, node: Any, where: str) -> Any:
        if not isinstance(node, self.yaml.ScalarNode):
            raise self.fail(node, where, f"expected a single value, got {self.kind(node)}.")
        return self.value(node)

    def number(self, node: Any, where: str, integer: bool) -> int | float:
        v = self.scalar(node, where)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            want = "an integer" if integer else "a number"
            raise self.fail(node, where, f"expected {want}, got {_describe(v)}.")
        if not math.isfinite(v):
            raise self.fail(node, where, f"expected a finite number, got {_describe(v)}.")
        return v

    def check_tags(self, root: Any) -> None:
        """Only plain YAML data: a ``!!python/...`` or custom tag is an error, not an object."""
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.tag not in _PLAIN_TAGS:
                raise self.fail(
                    node,
                    "tag",
                    f"the YAML tag {node.tag!r} is not allowed; a search space holds plain "
                    "values (text, numbers, true/false, lists, mappings) only.",
                )
            if isinstance(node, self.yaml.MappingNode):
                stack.extend(n for pair in node.value for n in pair)
            elif isinstance(node, self.yaml.SequenceNode):
                stack.extend(node.value)

    # -- the schema ------------------------------------------------------------------------
    def read(self, root: Any) -> SearchSpace:
        if root is None:
            raise SearchSpaceError(f"{self.source}: the search space is empty; it needs a 'parameters:' mapping.")
        self.check_tags(root)
        top = self.mapping(root, "top level")
        params_node = None
        for key, key_node, value_node in top:
            if key not in _TOP_LEVEL_FIELDS:
                raise self.fail(
                    key_node,
                    "top level",
                    f"unknown key {key!r}; the top level holds {', '.join(_TOP_LEVEL_FIELDS)} "
                    "(parameters go under 'parameters:').",
                )
            if key == "parameters":
                params_node = value_node
        if params_node is None:
            raise self.fail(root, "top level", "missing 'parameters:' (a mapping from parameter name to its fields).")
        entries = self.mapping(params_node, "parameters")
        if not entries:
            raise self.fail(params_node, "parameters", "no parameters; declare at least one.")
        parameters: list[Parameter] = []
        for name, key_node, node in entries:
            parameters.append(self.parameter(name, key_node, node, {p.name: p for p in parameters}))
        return SearchSpace(parameters, source=self.source)

    def parameter(self, name: str, key_node: Any, node: Any, earlier: dict[str, Parameter]) -> Parameter:
        where = f"parameter {name!r}"
        fields: dict[str, tuple[Any, Any]] = {}
        for key, knode, vnode in self.mapping(node, where):
            if key not in FIELDS:
                raise self.fail(knode, where, f"unknown field {key!r}; the fields are {', '.join(FIELDS)}.")
            fields[key] = (knode, vnode)

        def get(key: str) -> Any:
            return fields[key][1] if key in fields else None

        for required, allowed in (("role", ROLES), ("type", TYPES)):
            if required not in fields:
                raise self.fail(node, where, f"missing '{required}:'; write one of {', '.join(allowed)}.")
        role = self.scalar(get("role"), f"{where}, field 'role'")
        if role not in ROLES:
            raise self.fail(
                get("role"),
                f"{where}, field 'role'",
                f"unknown role {_describe(role)}; write strategic (picked by the high-level agent) "
                "or tactical (tuned by the low-level agents).",
            )
        type_ = self.scalar(get("type"), f"{where}, field 'type'")
        if type_ not in TYPES:
            raise self.fail(
                get("type"),
                f"{where}, field 'type'",
                f"unknown type {_describe(type_)}; write float, int or categorical.",
            )
        description = ""
        if "description" in fields:
            description = self.scalar(get("description"), f"{where}, field 'description'")
            if not isinstance(description, str):
                raise self.fail(get("description"), f"{where}, field 'description'", "expected text.")
        if type_ == "categorical":
            distribution = self.categorical(name, fields, where, node)
            if role == "tactical":
                raise self.fail(
                    get("role"),
                    f"{where}, field 'role'",
                    "a categorical parameter cannot be tactical: CascadeSampler's high-level agent "
                    "picks every categorical value. Write role: strategic, or, if the choices are "
                    "ordered numbers the low level should tune, make it an int or float with "
                    "low/high.",
                )
        elif "levels" in fields:
            distribution = self.levels(type_, fields, where)
            if role == "tactical":
                raise self.fail(
                    fields["levels"][0],
                    where,
                    "'levels' is for a strategic parameter (the high-level agent picks one of them); "
                    "write role: strategic, or give a tactical parameter low/high.",
                )
        else:
            distribution = self.numeric(type_, fields, where, node)
            if role == "strategic":
                if isinstance(distribution, FloatDistribution) and distribution.step is None:
                    raise self.fail(
                        get("role"),
                        f"{where}, field 'role'",
                        "a continuous float cannot be strategic (the high-level agent picks among "
                        "a finite set of values): give it a 'step', or write role: tactical.",
                    )
                try:
                    levels = strategic_choices(name, distribution)
                except ValueError as exc:
                    message = str(exc).replace("from `strategic_params`", "from the strategic role")
                    raise self.fail(get("role"), f"{where}, field 'role'", message) from None
                if isinstance(distribution, IntDistribution) and distribution.log:
                    # The doubling levels, and nothing in between (see the module docstring).
                    distribution = CategoricalDistribution(levels)
        when = self.condition(get("when"), where, earlier) if "when" in fields else {}
        return Parameter(name, role, distribution, when, description, value_type=type_)

    def categorical(self, name: str, fields: dict[str, tuple[Any, Any]], where: str, node: Any) -> BaseDistribution:
        for key in ("low", "high", "log", "step", "levels"):
            if key in fields:
                raise self.fail(
                    fields[key][0],
                    where,
                    f"'{key}' does not apply to a categorical parameter; list its values in 'choices:'.",
                )
        if "choices" not in fields:
            raise self.fail(node, where, "missing 'choices:' (a list of the values, e.g. [adamw, sgd]).")
        cnode = fields["choices"][1]
        cwhere = f"{where}, field 'choices'"
        if not isinstance(cnode, self.yaml.SequenceNode):
            raise self.fail(cnode, cwhere, f"expected a list such as [adamw, sgd], got {self.kind(cnode)}.")
        choices: list[Any] = []
        for item in cnode.value:
            v = self.scalar(item, cwhere)
            if v is not None and not isinstance(v, (bool, int, float, str)):
                raise self.fail(item, cwhere, f"choices must be text, numbers, true/false or null, got {_describe(v)}.")
            if any(_same(v, c) for c in choices):
                raise self.fail(item, cwhere, f"{_describe(v)} is listed twice; list each choice once.")
            choices.append(v)
        if not choices:
            raise self.fail(cnode, cwhere, "the list of choices is empty; give at least one value.")
        return CategoricalDistribution(choices)

    def levels(self, type_: str, fields: dict[str, tuple[Any, Any]], where: str) -> BaseDistribution:
        """``levels: [4, 8, 16]``: a strategic number suggested as exactly these values."""
        integer = type_ == "int"
        for key in ("low", "high", "log", "step", "choices"):
            if key in fields:
                raise self.fail(
                    fields[key][0],
                    where,
                    f"'{key}' cannot be combined with 'levels': the levels are the values; remove "
                    f"'{key}', or remove 'levels' and give low/high.",
                )
        lnode = fields["levels"][1]
        lwhere = f"{where}, field 'levels'"
        if not isinstance(lnode, self.yaml.SequenceNode):
            raise self.fail(lnode, lwhere, f"expected a list such as [4, 8, 16], got {self.kind(lnode)}.")
        values: list[int | float] = []
        for item in lnode.value:
            v = self.number(item, lwhere, integer)
            if any(v == u for u in values):
                raise self.fail(item, lwhere, f"{_describe(v)} is listed twice; list each level once.")
            values.append(v if integer else float(v))
        if not values:
            raise self.fail(lnode, lwhere, "the list of levels is empty; give at least one value.")
        if len(values) > MAX_STRATEGIC_LEVELS:
            raise self.fail(
                lnode,
                lwhere,
                f"{len(values)} levels; the high-level agent takes at most {MAX_STRATEGIC_LEVELS}. "
                "Keep the ones that matter, or make the parameter tactical with low/high.",
            )
        return CategoricalDistribution(values)

    def numeric(self, type_: str, fields: dict[str, tuple[Any, Any]], where: str, node: Any) -> BaseDistribution:
        integer = type_ == "int"
        if "choices" in fields:
            raise self.fail(
                fields["choices"][0],
                where,
                f"'choices' does not apply to a {type_} parameter: give low/high, or make it type: categorical.",
            )
        for key in ("low", "high"):
            if key not in fields:
                raise self.fail(
                    node,
                    where,
                    f"missing '{key}:' (the {'lower' if key == 'low' else 'upper'} bound; a strategic "
                    "parameter may list its values with 'levels:' instead).",
                )
        low = self.number(fields["low"][1], f"{where}, field 'low'", integer)
        high = self.number(fields["high"][1], f"{where}, field 'high'", integer)
        if low >= high:
            raise self.fail(
                fields["high"][1],
                f"{where}, field 'high'",
                f"high ({high}) must be greater than low ({low}); swap them, or, for a fixed "
                "value, leave the parameter out of the space.",
            )
        log = False
        if "log" in fields:
            log = self.scalar(fields["log"][1], f"{where}, field 'log'")
            if not isinstance(log, bool):
                raise self.fail(
                    fields["log"][1], f"{where}, field 'log'", f"expected true or false, got {_describe(log)}."
                )
        if log and low <= 0:
            raise self.fail(
                fields["low"][1],
                f"{where}, field 'low'",
                f"a log-scale range needs low > 0, got {low}; raise low (e.g. 1.0e-6) or set log: false.",
            )
        step = None
        if "step" in fields:
            snode = fields["step"][1]
            swhere = f"{where}, field 'step'"
            step = self.number(snode, swhere, integer)
            if log:
                raise self.fail(
                    snode,
                    swhere,
                    "step cannot be combined with log: true (optuna's log scale has no grid); remove one of them.",
                )
            if step <= 0:
                raise self.fail(snode, swhere, f"step must be positive, got {step}.")
            n = (high - low) / step
            if abs(n - round(n)) > 1e-8 * max(1.0, abs(n)):
                raise self.fail(
                    snode,
                    swhere,
                    f"high - low ({high - low:g}) is not a multiple of step ({step:g}); change high "
                    "or step so the grid ends on high.",
                )
        if integer:
            return IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        return FloatDistribution(float(low), float(high), log=log, step=None if step is None else float(step))

    def condition(self, node: Any, where: str, earlier: dict[str, Parameter]) -> dict[str, tuple[Any, ...]]:
        cwhere = f"{where}, field 'when'"
        entries = self.mapping(node, cwhere)
        if not entries:
            raise self.fail(node, cwhere, "empty condition; remove 'when:' or name a parameter, e.g. {optimizer: sgd}.")
        out: dict[str, tuple[Any, ...]] = {}
        for parent, knode, vnode in entries:
            if parent not in earlier:
                raise self.fail(
                    knode,
                    cwhere,
                    f"condition on {parent!r}, which is not declared before {where.split()[1]}. "
                    "A condition can only use a parameter declared earlier in the file: move "
                    f"{parent!r} above it, or fix the name"
                    + (f" (declared: {', '.join(earlier)})." if earlier else "."),
                )
            if isinstance(vnode, self.yaml.SequenceNode):
                items = vnode.value
                if not items:
                    raise self.fail(vnode, cwhere, f"empty list of values for {parent!r}.")
            else:
                items = [vnode]
            dist = earlier[parent].distribution
            allowed: list[Any] = []
            for item in items:
                v = self.scalar(item, cwhere)
                if not self.possible(dist, v):
                    raise self.fail(
                        item,
                        cwhere,
                        f"{parent!r} can never be {_describe(v)} ({self.domain(dist)}), so this "
                        "parameter would never be suggested; use one of its values.",
                    )
                allowed.append(v)
            out[parent] = tuple(allowed)
        return out

    @staticmethod
    def possible(dist: BaseDistribution, v: Any) -> bool:
        if isinstance(dist, CategoricalDistribution):
            return any(_same(v, c) for c in dist.choices)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        if isinstance(dist, IntDistribution):
            if not float(v).is_integer() or not dist.low <= v <= dist.high:
                return False
            return dist.log or (int(v) - dist.low) % dist.step == 0
        assert isinstance(dist, FloatDistribution)
        if dist.step is None:
            return False  # a continuous float never equals a given value
        k = (v - dist.low) / dist.step
        return dist.low <= v <= dist.high and abs(k - round(k)) < 1e-8

    @staticmethod
    def domain(dist: BaseDistribution) -> str:
        if isinstance(dist, CategoricalDistribution):
            return "its choices are " + ", ".join(_describe(c) for c in dist.choices)
        if isinstance(dist, FloatDistribution) and dist.step is None:
            return "it is a continuous float; conditions need a categorical, int or stepped float"
        assert isinstance(dist, (IntDistribution, FloatDistribution))
        return f"its range is {dist.low}..{dist.high}" + (
            f" step {dist.step}" if getattr(dist, "step", None) not in (None, 1) else ""
        )
