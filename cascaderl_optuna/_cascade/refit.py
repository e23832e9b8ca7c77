"""When the learned parts are re-fitted: the refit schedule of the critic and the high level.

Both fits are functions of the stored trials alone, so a fresh process (another worker, a
restarted study) fits the same from the same storage, and a fit can be cached under the numbers of
the finished trials it used (finished trials never change). Refitting at every trial is what a
small study can afford; a large one re-fits at points that get sparser as it grows.
"""

from __future__ import annotations


def refit_point(n_finished: int, interval: int, first: int | None = None) -> int:
    """The latest point ``<= n_finished`` at which a fit is re-done (0 before the first point).

    Every ``interval`` finished trials at first, then every 5% of the finished trials once that
    is longer: the points are ``b_0 = first`` (default: ``interval``) and
    ``b_(j+1) = b_j + max(interval, b_j // 20)``. The critic's hyperparameters use
    ``interval=critic_refit_interval``; the high level, ``interval=1, first=window``.
    A critic fit costs a cubic marginal-likelihood optimisation on the critic window; with a
    fixed interval it dominated the sampler's time per trial in long studies, while the
    hyperparameters of a large study barely move between fits. With the default
    interval of 10 the points are the multiples of 10 up to 220, then 231, 242, ... and every 50
    trials by 1,000. A fresh process computes the same points from the trial count.
    """
    block, nxt = 0, interval if first is None else first
    while nxt <= n_finished:
        block = nxt
        nxt = block + max(interval, block // 20)
    return block


def critic_fit_range(n_finished: int, interval: int, critic_window: int) -> tuple[int, int]:
    """``(start, stop)`` of the finished trials the critic's hyperparameters are fitted on.

    The last ``critic_window`` trials before the latest refit point; before the first refit
    point (fewer than two trials there), the last ``critic_window`` trials of the study.
    """
    block = refit_point(n_finished, interval)
    start = max(0, block - critic_window)
    if block - start < 2:
        return max(0, n_finished - critic_window), n_finished
    return start, block


def high_level_fit_range(n_finished: int, window: int) -> tuple[int, int] | None:
    """``(start, stop)`` of the trials the high level's weights are fitted on, or ``None``.

    ``None`` while the study fits in the window: then the agent is re-fitted on every decision,
    on the current window. Once the window is full, each new trial changes one part in
    ``window`` of the agent's data, and the PPO re-fit is the largest share of the sampler's
    cost per trial, so the weights are re-fitted only at the refit points (every 5% of the
    finished trials), on the window that ends there; between points only the history encoding
    follows the current window.
    """
    if n_finished <= window:
        return None
    block = refit_point(n_finished, 1, first=window)
    return block - window, block
