"""Workers SIGKILLed at random on one PostgreSQL study (benchmarks/chaos.py) until 80 trials have finished: nothing is
lost, no trial that ran is left RUNNING, and the learning goes on. Counted in trials, not seconds, so that a loaded
machine runs the same schedule, only slower."""

from __future__ import annotations

from postgres_server import postgres_server
import pytest

from benchmarks import chaos


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


def test_random_kills_leave_no_zombie_and_lose_no_trial(postgres_url, tmp_path):
    result = chaos.run(postgres_url, n_workers=4, trials=80, seed=0, log_dir=tmp_path)
    assert result["kills"] >= 4 + 4  # four or more during the run (every 4-10 finished trials), four at the end
    assert result["contiguous"], result
    assert result["running_with_params"] == [], result  # every trial that started running was failed or finished
    # A kill in Optuna's own window between create_new_trial and the sampler's before_trial leaves a RUNNING trial with
    # no parameters and no heartbeat; the workers' samplers fail those orphans, the next worker those of the last kills.
    assert result["running"] == [], result
    assert result["killed_failures"] <= result["kills"], result
    assert result["outside"] == [], result
    assert result["tracebacks"] == [], result
    assert result["complete"] >= 40, result  # a kill fails at most the one trial it hits: most trials complete
    assert result["best_share_last_third"] > 0.5, result  # the planted best family dominates the end
