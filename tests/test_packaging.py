"""The wheel as a user gets it: built, checked by twine, installed with no extras, and run.

Every other test imports the checkout (an editable install, or ``PYTHONPATH``), where every extra
is installed and every file is on disk, so none of them notices a core dependency missing from
``pyproject.toml`` (scipy, which the default QMC start-up needs, was missing) or a data file the
wheel leaves out (the pre-trained weights, the task YAML files). This file builds the sdist and
the wheel from it with ``python -m build`` exactly as a release would, checks both with
``twine check``, then installs the wheel into a fresh virtual environment (no system site
packages) that holds nothing but torch and what the wheel itself asks for, and runs a study there
in an isolated interpreter (``-I``: neither ``PYTHONPATH`` nor the working directory can bring the
checkout back in).

torch is installed first, pinned to the running interpreter's release: on this project's
machines that release lies on disk as a CPU build, where a bare ``torch`` from PyPI is a
multi-gigabyte CUDA build. The pip configuration of the machine applies inside the new venv too.

Slow (a minute or two, most of it pip), so it is marked ``slow``: ``pytest -m "not slow"`` skips it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest


pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cascaderl_optuna"
N_TRIALS = 30
N_STARTUP = 10  # CascadeSampler's default n_startup_trials

# Runs inside the fresh venv; prints one JSON document on stdout for the test to judge.
STUDY_SCRIPT = (
    textwrap.dedent(
        """
    import json
    import math
    from importlib import resources

    import optuna
    from optuna.distributions import distribution_to_json

    import cascaderl_optuna
    from cascaderl_optuna import CascadeSampler
    from cascaderl_optuna._cascade.records import Decision

    optuna.logging.set_verbosity(optuna.logging.WARNING)


    def objective(trial):
        optimizer = trial.suggest_categorical("optimizer", ["adamw", "sgd", "rmsprop"])
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        momentum = trial.suggest_float("momentum", 0.0, 0.99)
        best = {"adamw": 3e-4, "sgd": 0.1, "rmsprop": 1e-3}[optimizer]
        return (math.log10(lr) - math.log10(best)) ** 2 + (momentum - 0.9) ** 2


    study = optuna.create_study(sampler=CascadeSampler())
    study.optimize(objective, n_trials=N_TRIALS)

    pretrained = optuna.create_study(sampler=CascadeSampler(seed=1, high_level_theta="pretrained"))
    pretrained.optimize(objective, n_trials=15)

    tasks = resources.files("cascaderl_optuna") / "cli" / "tasks"
    print(json.dumps({
        "package_file": cascaderl_optuna.__file__,
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "params": t.params,
                "distributions": {k: distribution_to_json(d) for k, d in t.distributions.items()},
                "decision": (d := Decision.read(t)) and d.to_json(),
            }
            for t in study.trials
        ],
        "pretrained_states": [t.state.name for t in pretrained.trials],
        "pretrained_decisions": sum(Decision.read(t) is not None for t in pretrained.trials),
        "task_yaml": sorted(p.name for p in tasks.iterdir() if p.name.endswith(".yaml")),
    }))
    """
    )
    .replace("N_TRIALS", str(N_TRIALS))
    .replace("N_STARTUP", str(N_STARTUP))
)


def _run(cmd: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def _package_data_files() -> set[str]:
    """Every non-Python file of the package source: each must be in the wheel."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, ROOT])
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory, dist) -> Path:
    """A venv holding torch and the wheel with no extras; its python."""
    import torch

    venv = tmp_path_factory.mktemp("core-venv")
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    torch_release = torch.__version__.split("+")[0]
    _run([python, "-m", "pip", "install", "--quiet", f"torch=={torch_release}"], env=env)
    _run([python, "-m", "pip", "install", "--quiet", dist["wheel"]], env=env)
    return python


def test_build_and_twine_check_pass(dist):
    result = _run([sys.executable, "-m", "twine", "check", "--strict", dist["wheel"], dist["sdist"]])
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_wheel_holds_the_package_and_its_data_files_only(dist):
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    data = _package_data_files()
    assert "cascaderl_optuna/_cascade/weights/high_level.json" in data  # the check below covers it
    assert data <= names, f"package data missing from the wheel: {sorted(data - names)}"
    sources = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert sources <= names, f"modules missing from the wheel: {sorted(sources - names)}"
    top_level = {n.split("/")[0] for n in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"cascaderl_optuna"}, (
        f"the wheel ships more than the package (benchmarks, tests?): {sorted(top_level)}"
    )


def test_sdist_holds_the_package_and_the_changelog_not_the_tests(dist):
    with tarfile.open(dist["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml"} <= names
    assert _package_data_files() <= names, sorted(_package_data_files() - names)
    assert not [n for n in names if n.startswith("tests/")], "a partial test suite in the sdist"


def test_core_only_install_runs_a_mixed_study(core_venv, tmp_path):
    from optuna.distributions import json_to_distribution

    script = tmp_path / "study.py"
    script.write_text(STUDY_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONWARNINGS")}
    result = _run([core_venv, "-I", script], env=env, cwd=tmp_path)

    noisy = [line for line in result.stderr.splitlines() if re.search(r"Warning|Traceback|Error|\[W ", line)]
    assert not noisy, "warnings or errors on stderr:\n" + result.stderr[-4000:]

    report = json.loads(result.stdout)
    # The installed wheel ran, not the checkout.
    assert Path(report["package_file"]).is_relative_to(core_venv.parents[1]), report["package_file"]
    assert not Path(report["package_file"]).is_relative_to(ROOT)

    trials = report["trials"]
    assert [t["state"] for t in trials] == ["COMPLETE"] * N_TRIALS
    for t in trials:
        assert set(t["params"]) == {"optimizer", "lr", "momentum"}
        for name, value in t["params"].items():
            dist = json_to_distribution(t["distributions"][name])
            assert dist._contains(dist.to_internal_repr(value)), (t["number"], name, value, dist)
        if t["number"] < N_STARTUP:
            assert t["decision"] is None, f"start-up trial {t['number']} carries a cascade decision"
            continue
        decision = t["decision"]
        assert decision is not None, f"trial {t['number']} has no cascade decision record"
        choices = json_to_distribution(t["distributions"]["optimizer"]).choices
        # The record names the strategy the trial actually ran, and a log-probability per level.
        assert decision["strategy"] == {"optimizer": list(choices).index(t["params"]["optimizer"])}
        assert set(decision["hl_log_prob"]) == {"optimizer"}
        assert set(decision["ll_log_prob"]) == {"lr", "momentum"}
        assert all(v <= 0.0 for v in decision["hl_log_prob"].values())  # a probability's log

    # The package data came along: the pre-trained weights (or this study would have raised) and
    # every task YAML file of the source tree.
    assert report["pretrained_states"] == ["COMPLETE"] * 15
    assert report["pretrained_decisions"] == 15 - N_STARTUP
    assert report["task_yaml"] == sorted(p.name for p in (PACKAGE / "cli" / "tasks").glob("*.yaml"))
