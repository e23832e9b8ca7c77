"""Values derived from finished trials, computed once per trial instead of on every decision.

The sampler re-reads its whole window (200 trials) on every decision: the JSON record each trial
carries, its tactical values in the unit cube, its strategy indices. Parsing and converting them
again each time was a noticeable share of its cost per trial. A finished trial
never changes (optuna refuses to update one), so a value derived from it can be kept. Each kind of
value is kept under a tag that names everything else it depends on (the record's key, the tactical
distributions, the strategic heads), and only for the trials of the last call with that tag (the
window), so the cache stays as small as the window. A value derived from a whole set of finished
trials (the high level's fitted weights, the critic's fitted hyperparameters) is kept under a key
that names those trials (``memo``). Like the search-space cursor, the cache belongs to one study of
one storage: handed another study, it starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any
from typing import TypeVar
import weakref

from optuna.study import Study
from optuna.trial import FrozenTrial

from cascaderl_optuna._cascade.optuna_compat import study_id
from cascaderl_optuna._cascade.optuna_compat import study_storage
from cascaderl_optuna._cascade.optuna_compat import trial_id


T = TypeVar("T")
_MAX_TAGS = 8
_MAX_MEMO = 4


class StudyBinding:
    """The one study (of one storage) that a cache or cursor describes.

    ``rebind(study)`` binds to ``study`` and says whether it is another study than the bound one:
    in-memory storages all number their first study 0, so the study id alone cannot tell. The
    storage is held by a weak reference, never keeping a study's storage alive (and so it does not
    pickle: an owner's copy starts unbound and empty).
    """

    def __init__(self) -> None:
        self._storage: weakref.ref | None = None
        self._study_id: int | None = None

    def rebind(self, study: Study) -> bool:
        storage = self._storage() if self._storage is not None else None
        if storage is study_storage(study) and self._study_id == study_id(study):
            return False
        self._storage, self._study_id = weakref.ref(study_storage(study)), study_id(study)
        return True


class FinishedTrialCache:
    """``values(study, finished, tag, compute)`` -> ``[compute(t) for t in finished]``, cached per trial."""

    def __init__(self) -> None:
        self._binding = StudyBinding()
        self._reset()

    def _reset(self) -> None:
        self._by_tag: dict[Hashable, dict[int, Any]] = {}
        self._memo: dict[Hashable, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a copy (pickle) starts unbound and empty

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def values(
        self,
        study: Study,
        finished: Sequence[FrozenTrial],
        tag: Hashable,
        compute: Callable[[FrozenTrial], T],
    ) -> list[T]:
        """Only for finished trials: a running trial's attributes still change."""
        self._follow(study)
        known = self._by_tag.get(tag, {})
        kept: dict[int, Any] = {}
        out = []
        for trial in finished:
            key = trial_id(trial)
            value = known[key] if key in known else compute(trial)
            kept[key] = value
            out.append(value)
        if tag not in self._by_tag and len(self._by_tag) >= _MAX_TAGS:
            self._by_tag.clear()  # the search space changed many times: old tags are stale
        self._by_tag[tag] = kept
        return out

    def memo(self, study: Study, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``key``: the key must name every finished trial it reads."""
        self._follow(study)
        if key in self._memo:
            self._memo[key] = value = self._memo.pop(key)  # now the most recently used
            return value
        if len(self._memo) >= _MAX_MEMO:
            del self._memo[next(iter(self._memo))]  # the least recently used
        self._memo[key] = value = compute()
        return value

    def _follow(self, study: Study) -> None:
        if self._binding.rebind(study):
            self._reset()
