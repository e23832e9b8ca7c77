"""The incremental group decomposition gives optuna's groups while reading each trial once."""

import pickle

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.search_space.group_decomposed import _GroupDecomposedSearchSpace
from optuna.trial import TrialState

from cascaderl_optuna._cascade.group_decomposition import IncrementalGroupDecomposedSearchSpace


PARAMS = {
    "optimizer": CategoricalDistribution(["adamw", "sgd"]),
    "lr": FloatDistribution(1e-5, 1.0, log=True),
    "momentum": FloatDistribution(0.0, 0.99),
    "rank": CategoricalDistribution([4, 8, 16]),
    "dropout": FloatDistribution(0.0, 0.5),
}
STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _canonical(groups) -> set[frozenset]:
    return {frozenset((name, repr(dist)) for name, dist in group.items()) for group in groups}


# A scenario: trials asked in order; each step either starts a trial with a subset of the parameters or finishes
# one of the running trials (in any order), and after each step both decompositions are computed.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), st.sets(st.sampled_from(sorted(PARAMS)), min_size=1)),
        st.tuples(st.just("finish"), st.integers(0, 1000), st.sampled_from(STATES)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_matches_optunas_decomposition_after_every_step(scenario):
    study = optuna.create_study()
    ours = IncrementalGroupDecomposedSearchSpace()
    theirs = _GroupDecomposedSearchSpace(include_pruned=True)
    running = []
    for step in scenario:
        if step[0] == "ask":
            trial = study.ask({name: PARAMS[name] for name in sorted(step[1])})
            running.append(trial)
        elif running:
            trial = running.pop(step[1] % len(running))
            state = step[2]
            if state == TrialState.PRUNED:
                trial.report(0.5, step=1)
            study.tell(trial, 1.0 if state == TrialState.COMPLETE else None, state=state)
        expected = theirs.calculate(study, use_cache=True).search_spaces
        assert _canonical(ours.calculate(study)) == _canonical(expected)


def test_reads_each_finished_trial_once_and_starts_over_on_another_study():
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage)
    for _ in range(5):
        study.enqueue_trial({"lr": 0.01})
        study.optimize(lambda t: t.suggest_float("lr", 1e-5, 1.0, log=True), n_trials=1)
    space = IncrementalGroupDecomposedSearchSpace()
    space.calculate(study)
    assert space._cursor == 5
    calls = []
    original = space._groups.add_distributions
    space._groups.add_distributions = lambda d: calls.append(d) or original(d)
    study.optimize(lambda t: t.suggest_float("lr", 1e-5, 1.0, log=True), n_trials=1)
    assert list(space.calculate(study)[0]) == ["lr"]
    assert len(calls) == 1  # only the new trial was read

    # A sampler reused for another study reads that study from its start, whether the study id differs (same
    # storage) or not (a fresh in-memory storage numbers its first study 0 too).
    for other in (optuna.create_study(storage=storage), optuna.create_study()):
        other.optimize(lambda t: len(t.suggest_categorical("optimizer", ["adamw", "sgd"])), n_trials=2)
        assert [list(g) for g in space.calculate(other)] == [["optimizer"]]
    copy = pickle.loads(pickle.dumps(space))
    assert [list(g) for g in copy.calculate(study)] == [["lr"]]
