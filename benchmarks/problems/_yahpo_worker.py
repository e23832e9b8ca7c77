"""YAHPO Gym evaluation server, run in its own Python environment.

``yahpo-gym==1.0.2`` pins ``numpy<2`` and ``ConfigSpace<=0.6.1``. Torch 2.13, optuna 5.0 and yahpo-gym were seen to
work together with numpy 1.26.4 in one environment, but the project's own environment runs numpy 2, so the
benchmark keeps YAHPO in a separate virtual environment (``python -m benchmarks setup-yahpo``) and talks to this
script over a pipe, one JSON object per line. The script imports nothing from the project.

Protocol: the first line is ``{"scenario", "instance", "data_path"}``; the reply describes the search space (the
scenario's optimisation space without fidelity parameters, as its authors define it) and the maximum fidelity.
Every later line is a configuration; the reply is the surrogate's prediction of all targets at maximum fidelity.
"""

import json
import os
import sys
import tempfile
import warnings


def describe(config_space):
    import ConfigSpace as CS

    params = []
    for hp in config_space.get_hyperparameters():
        if isinstance(hp, CS.Constant):
            params.append({"name": hp.name, "type": "constant", "value": hp.value})
        elif isinstance(hp, CS.CategoricalHyperparameter):
            params.append({"name": hp.name, "type": "categorical", "choices": list(hp.choices)})
        elif isinstance(hp, CS.UniformIntegerHyperparameter):
            params.append({"name": hp.name, "type": "int", "low": hp.lower, "high": hp.upper, "log": hp.log})
        elif isinstance(hp, CS.UniformFloatHyperparameter):
            params.append({"name": hp.name, "type": "float", "low": hp.lower, "high": hp.upper, "log": hp.log})
        else:
            raise TypeError(f"unsupported hyperparameter {hp!r}")
    conditions = []
    for cond in config_space.get_conditions():
        values = list(cond.values) if isinstance(cond, CS.InCondition) else [cond.value]
        conditions.append({"child": cond.child.name, "parent": cond.parent.name, "values": values})
    return params, conditions


def main():
    warnings.filterwarnings("ignore")
    out, sys.stdout = sys.stdout, sys.stderr  # yahpo prints citations: keep the pipe for replies only
    os.environ["YAHPO_LOCAL_CONFIG"] = os.path.join(tempfile.mkdtemp(prefix="yahpo-"), "config")
    from yahpo_gym import benchmark_set
    from yahpo_gym import local_config

    setup = json.loads(sys.stdin.readline())
    local_config.init_config(data_path=setup["data_path"])
    bench = benchmark_set.BenchmarkSet(setup["scenario"], instance=setup["instance"], multithread=False)
    params, conditions = describe(bench.get_opt_space(drop_fidelity_params=True))
    fidelity = {}
    for name in bench.config.fidelity_params:  # evaluate at the largest budget: the full-fidelity problem
        fidelity[name] = bench.config_space.get_hyperparameter(name).upper
    out.write(
        json.dumps(
            {"params": params, "conditions": conditions, "fidelity": fidelity, "targets": list(bench.config.y_names)}
        )
        + "\n"
    )
    out.flush()
    for line in sys.stdin:
        config = json.loads(line)
        config.update(fidelity)
        y = bench.objective_function(config)[0]
        out.write(json.dumps({k: float(v) for k, v in y.items()}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
