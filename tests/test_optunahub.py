"""The OptunaHub package (``optunahub/package/samplers/cascade_rl``), held to the registry's checks.

The folder mirrors optunahub-registry's layout (``package/samplers/<name>/`` with ``__init__.py``,
``README.md``, ``LICENSE``, ``requirements.txt``, ``example.py``), so ``registry_root`` points at
``optunahub/package`` here as it points at ``package`` there, and the folder can be copied into a
fork of the registry as it is. The registry's CI runs pre-commit (ruff, ruff-format, strict mypy,
mdformat with mdformat-myst) and ``header_confirm.py`` (the README's front matter); this file runs
the same checks with the registry's settings (``optunahub/ruff.toml``, ``optunahub/mypy.ini``),
then loads the package with ``optunahub.load_local_module`` and runs a study through it.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
import re
import subprocess
import sys

import frontmatter
import optuna
import optunahub
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.records import Decision


ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "optunahub"
REGISTRY_ROOT = HUB / "package"
PACKAGE = "samplers/cascade_rl"
FOLDER = REGISTRY_ROOT / PACKAGE
TOOLS = Path(sys.executable).parent


def _tool(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOLS / name), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def test_load_local_module_runs_a_study():
    module = optunahub.load_local_module(package=PACKAGE, registry_root=str(REGISTRY_ROOT))
    assert module.CascadeSampler is CascadeSampler  # re-exported, not a copy that could drift
    assert module.__all__ == ["CascadeSampler"]

    def objective(trial: optuna.Trial) -> float:
        optimizer = trial.suggest_categorical("optimizer", ["adamw", "sgd"])
        x = trial.suggest_float("x", -3.0, 3.0)
        return (x - (1.0 if optimizer == "adamw" else -1.0)) ** 2

    study = optuna.create_study(sampler=module.CascadeSampler(seed=0, n_startup_trials=5))
    study.optimize(objective, n_trials=12)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    decided = [t.number for t in study.trials if Decision.read(t) is not None]
    assert decided == list(range(5, 12))  # the cascade itself chose after the start-up


def test_the_folder_holds_the_registry_files():
    assert {p.name for p in FOLDER.iterdir() if p.is_file()} >= {
        "__init__.py",
        "README.md",
        "LICENSE",
        "requirements.txt",
        "example.py",
    }
    assert (FOLDER / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    requirements = (FOLDER / "requirements.txt").read_text().split()
    assert any(re.match(r"cascaderl-optuna\b", r) for r in requirements), requirements
    # No binaries in the registry (its review rules): the weights come with the installed package.
    assert not [p for p in FOLDER.rglob("*") if p.suffix in (".json", ".pt", ".pkl", ".npy")]


def test_readme_front_matter_is_what_header_confirm_requires():
    post = frontmatter.load(FOLDER / "README.md")
    for key in ("author", "title", "description", "tags", "optuna_versions", "license"):
        assert post.get(key) not in ("", None), f"front matter {key!r} missing or empty"
    assert "sampler" in post["tags"]  # required of every package under package/samplers/
    # The registry reads optuna_versions as "tested with": the suite running now is that test, so a new optuna
    # release that passes it is added to the list (a failing one is fixed first).
    tested = [str(v) for v in post["optuna_versions"]]
    assert optuna.__version__ in tested, (
        f"optuna {optuna.__version__} is installed but the registry README lists {tested}: when the whole test"
        f" command passes on it, add it to optuna_versions in {FOLDER / 'README.md'}"
    )
    headings = re.findall(r"^## (.+)$", post.content, flags=re.M)
    assert headings[:4] == ["Abstract", "APIs", "Installation", "Example"], headings
    assert "<" not in re.sub(r"```.*?```", "", post.content, flags=re.S)  # the registry strips HTML


def test_readme_documents_the_sampler_signature():
    text = (FOLDER / "README.md").read_text()
    (signature,) = re.findall(r"^- `CascadeSampler(\(.*\))`$", text, flags=re.M)
    args = ast.parse(f"def f{signature}: pass").body[0].args
    documented = {a.arg: ast.literal_eval(d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)}
    actual = {name: p.default for name, p in inspect.signature(CascadeSampler).parameters.items()}
    assert documented == actual
    for name in actual:
        assert f"  - `{name}`:" in text, f"{name} has no line under APIs"


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "optunahub"),
        ("ruff", "format", "--check", "optunahub"),
        ("mypy", "--no-incremental", "--config-file", "optunahub/mypy.ini", "optunahub/package"),
        ("mdformat", "--check", "optunahub/package/samplers/cascade_rl/README.md"),
    ],
    ids=["ruff", "ruff-format", "mypy", "mdformat"],
)
def test_registry_pre_commit_checks_pass(command):
    result = _tool(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_uses_the_registry_settings_in_the_hub_folder():
    # The closest ruff.toml decides: a line of 100 characters is fine in the project, not there.
    result = _tool("ruff", "check", "--show-settings", FOLDER / "__init__.py")
    assert re.search(r"line_length\s*=\s*99\b", result.stdout), result.stdout[-2000:]
