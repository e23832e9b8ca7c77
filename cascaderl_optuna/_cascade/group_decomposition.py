"""The relative search space, decomposed into groups of parameters that always appear together.

Optuna's ``_GroupDecomposedSearchSpace`` re-reads every finished trial and deep-copies its state on
every call: O(n) work per trial, which dominates a sampler's overhead in long studies. The
decomposition is a partition refined by each trial's parameter set; refining twice by the same set
changes nothing, and a parameter keeps the distribution of the first trial that had it. So each
finished trial needs to be read exactly once. This class keeps a cursor over the study's trials
(every trial before it is finished and read) plus the numbers of finished trials read beyond it
(they finished while an earlier trial was still running), and reads only the new ones: the same
groups, with the same distributions, as optuna's class, at a cost that does not grow with the study.
"""

from __future__ import annotations

from optuna.distributions import BaseDistribution
from optuna.study import Study
from optuna.trial import TrialState

from cascaderl_optuna._cascade.optuna_compat import SearchSpaceGroups
from cascaderl_optuna._cascade.optuna_compat import study_trials
from cascaderl_optuna._cascade.trial_cache import StudyBinding


_READ = (TrialState.COMPLETE, TrialState.PRUNED)  # the trials whose parameters define the space
_SKIP = (TrialState.FAIL,)  # finished, but never part of the space


class IncrementalGroupDecomposedSearchSpace:
    """``calculate(study)`` -> the groups of the relative search space; reads each trial once.

    The cursor belongs to one study. A sampler instance handed a different study (a notebook that
    reuses its sampler; in-memory storages all number their first study 0, so the study id alone
    cannot tell) starts over on it instead of reading the new study from the old cursor.
    """

    def __init__(self) -> None:
        self._binding = StudyBinding()
        self._reset()

    def _reset(self) -> None:
        self._groups = SearchSpaceGroups()
        self._cursor = 0  # trials[:cursor] are all finished and read
        self._read_beyond: set[int] = set()  # trial numbers >= cursor already read

    def __getstate__(self) -> dict:
        return {}  # a copy (pickle) starts unbound and empty, and reads its study again

    def __setstate__(self, state: dict) -> None:
        self.__init__()  # type: ignore[misc]

    def calculate(self, study: Study) -> list[dict[str, BaseDistribution]]:
        if self._binding.rebind(study):
            self._reset()
        trials = study_trials(study)
        advancing = True
        for trial in trials[self._cursor :]:
            finished = trial.state in _READ or trial.state in _SKIP
            if trial.state in _READ and trial.number not in self._read_beyond:
                self._groups.add_distributions(trial.distributions)
                if not advancing:
                    self._read_beyond.add(trial.number)
            if advancing and finished:
                self._cursor += 1
                self._read_beyond.discard(trial.number)
            else:
                advancing = False
        return self._groups.groups()
