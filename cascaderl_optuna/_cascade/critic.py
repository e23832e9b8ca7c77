"""The low-level critic: a Gaussian-process model of utility over (tactical values, strategy).

Within one strategy the tactical landscape is usually smooth, which is what Gaussian processes
model well with few points. The critic lets each PPO update of a low-level agent learn from many
*imagined* actions (model-based policy optimisation): the agent samples candidate tactical vectors
from its Gaussian policy, the critic scores them, and those scores are the advantages of the PPO
update. Without it, a strategy visited 15 times would give PPO 15 samples.

Inputs are the tactical values in the unit cube (a parameter a trial lacks is imputed at 0.5) and a
one-hot code of each strategic choice; a Matern-5/2 kernel with one length scale per input (ARD)
learns which strategic parameters change the tactical landscape (a short length scale on "optimizer
is SGD" means SGD's learning-rate optimum sits elsewhere). Targets are rank utilities, standardised.
Hyperparameters are fitted by maximising the marginal likelihood with a weak log-normal prior
(L-BFGS from a fixed start, so the fit is a deterministic function of the data).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
import torch


_SQRT5 = math.sqrt(5.0)
_JITTER = 1e-6
_LENGTHSCALE_PRIOR_MEAN = math.log(0.5)
_LENGTHSCALE_PRIOR_STD = 1.5
_NOISE_FLOOR = 1e-4
_FIT_ITERATIONS = 40


@dataclass
class KernelParams:
    """Fitted hyperparameters (log scale), cached between trials by the sampler."""

    log_lengthscale: np.ndarray
    log_signal: float
    log_noise: float


def fit_kernel(x: np.ndarray, y: np.ndarray) -> KernelParams:
    """Maximise the GP marginal likelihood (plus prior) over the hyperparameters."""
    xt = torch.tensor(x, dtype=torch.float64)
    yt = torch.tensor(_standardise(y), dtype=torch.float64)
    n, dim = xt.shape
    log_ls, log_sig, log_noise = fit_start(dim)
    optimiser = torch.optim.LBFGS([log_ls, log_sig, log_noise], max_iter=_FIT_ITERATIONS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = negative_log_posterior(xt, yt, log_ls, log_sig, log_noise)
        loss.backward()
        return loss

    try:
        optimiser.step(closure)
    except (RuntimeError, torch.linalg.LinAlgError):  # pragma: no cover - ill-conditioned data
        pass
    fitted = [log_ls.detach(), log_sig.detach(), log_noise.detach()]
    if not all(bool(torch.isfinite(t).all()) for t in fitted):
        # L-BFGS can step into NaN on finite data (a line search through an overflowing kernel); NaN
        # hyperparameters would make every prediction NaN, and the high level's probabilities with it.
        # The prior's values are a sound kernel.
        return prior_kernel(dim)
    ls = fitted[0].numpy().clip(math.log(1e-2), math.log(1e2))
    return KernelParams(ls, float(fitted[1].clamp(-5, 5)), float(fitted[2].clamp(-10, 2)))


def fit_start(dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The log length scales, log signal and log noise the fit starts from (the prior's centre), as leaf tensors."""
    start = prior_kernel(dim)
    return tuple(  # type: ignore[return-value]
        torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for v in (start.log_lengthscale, start.log_signal, start.log_noise)
    )


def negative_log_posterior(
    xt: torch.Tensor,
    yt: torch.Tensor,
    log_ls: torch.Tensor,
    log_sig: torch.Tensor,
    log_noise: torch.Tensor,
) -> torch.Tensor:
    """What :func:`fit_kernel` minimises: the negative log marginal likelihood of standardised targets ``yt`` at
    inputs ``xt`` plus the hyperparameters' prior, per trial."""
    n = xt.shape[0]
    noise = log_noise.exp() + _NOISE_FLOOR
    xs = xt / log_ls.exp()
    sq = xs.square().sum(1)
    r2 = (sq[:, None] + sq[None, :] - 2.0 * (xs @ xs.T)).clamp_min(0.0)
    k = log_sig.exp() * _matern52_of_squared_distance(r2, torch.sqrt, torch.exp)
    k = k + (noise + _JITTER) * torch.eye(n, dtype=torch.float64)
    chol = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(yt[:, None], chol)[:, 0]
    nll = 0.5 * yt @ alpha + chol.diagonal().log().sum()
    prior = 0.5 * (((log_ls - _LENGTHSCALE_PRIOR_MEAN) / _LENGTHSCALE_PRIOR_STD) ** 2).sum()
    prior = prior + 0.5 * log_sig**2 + 0.5 * ((log_noise - prior_kernel(xt.shape[1]).log_noise) / 2.0) ** 2
    return (nll + prior) / n


def prior_kernel(dim: int) -> KernelParams:
    """The hyperparameters the fit starts from (the prior's centre): what a failed fit falls back to."""
    return KernelParams(np.full(dim, _LENGTHSCALE_PRIOR_MEAN), 0.0, math.log(0.05))


def _matern52_of_squared_distance(r2, sqrt, exp):
    """Matern-5/2 correlation from squared scaled distances (numpy or torch, by ``sqrt``/``exp``).

    Distances come from ``|a|^2 + |b|^2 - 2 a.b`` on inputs divided by their length scales: one
    matrix product instead of an ``(n, m, dim)`` array of differences, which made the critic the
    largest share of the sampler's time per trial. The 1e-12 keeps the gradient of ``sqrt``
    finite at zero distance (the diagonal) during the fit.
    """
    r = sqrt(r2 + 1e-12)
    return (1 + _SQRT5 * r + 5.0 / 3.0 * r2) * exp(-_SQRT5 * r)


def _standardise(y: np.ndarray) -> np.ndarray:
    std = y.std()
    return (y - y.mean()) / (std if std > 1e-12 else 1.0)


class GaussianProcessCritic:
    """Posterior of the GP given data and fixed hyperparameters.

    NumPy, not torch: the posterior needs no gradients, and it is called some 30 times per decision
    on small arrays, where torch's per-operation overhead dominated. The inverse of the Cholesky
    factor is formed once, so each prediction is two matrix products.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, params: KernelParams) -> None:
        self._inv_ls = np.exp(-np.asarray(params.log_lengthscale, dtype=float))
        self._signal = math.exp(params.log_signal)
        self._mean = float(y.mean())
        self._scale = float(y.std()) if y.std() > 1e-12 else 1.0
        self._xs = np.asarray(x, dtype=float) * self._inv_ls
        self._xs_sq = np.einsum("ij,ij->i", self._xs, self._xs)
        noise = math.exp(params.log_noise) + _NOISE_FLOOR
        k = self._kernel(self._xs, self._xs_sq) + (noise + _JITTER) * np.eye(len(y))
        chol = np.linalg.cholesky(k)
        # torch's triangular solve (NumPy has none, and SciPy is not a core dependency)
        self._chol_inv = torch.linalg.solve_triangular(
            torch.from_numpy(chol), torch.eye(len(y), dtype=torch.float64), upper=False
        ).numpy()
        yt = (y - self._mean) / self._scale
        self._alpha = self._chol_inv.T @ (self._chol_inv @ yt)

    def _kernel(self, qs: np.ndarray, qs_sq: np.ndarray) -> np.ndarray:
        r2 = np.maximum(qs_sq[:, None] + self._xs_sq[None, :] - 2.0 * (qs @ self._xs.T), 0.0)
        return self._signal * _matern52_of_squared_distance(r2, np.sqrt, np.exp)

    def strategy_similarity(self, codes: np.ndarray, code: np.ndarray) -> np.ndarray:
        """Kernel correlation (in [0, 1]) between the strategy ``codes`` (rows) and the strategy ``code``.

        Both are the strategy part of the critic's input (its last ``len(code)`` columns,
        ``coordinates.critic_input``). It says how much the critic believes a trial's strategy behaves like
        ``code``'s: a mismatch on a head with a long length scale barely lowers it.
        """
        dims = slice(len(self._inv_ls) - len(code), None)
        d = (codes - code[None, :]) * self._inv_ls[dims]
        return _matern52_of_squared_distance(np.einsum("ij,ij->i", d, d), np.sqrt, np.exp)

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (in utility units) at ``xq``."""
        qs = np.asarray(xq, dtype=float) * self._inv_ls
        ks = self._kernel(qs, np.einsum("ij,ij->i", qs, qs))
        mean = ks @ self._alpha
        v = ks @ self._chol_inv.T
        var = np.maximum(self._signal - np.einsum("ij,ij->i", v, v), 1e-12)
        return mean * self._scale + self._mean, np.sqrt(var) * self._scale


def build_critic(
    inputs: np.ndarray,
    targets: np.ndarray,
    running: np.ndarray,
    params: KernelParams,
    window: int,
) -> GaussianProcessCritic:
    """The critic's posterior on the last ``window`` finished trials, RUNNING ones as constant liars.

    A RUNNING trial has no reward yet; it joins the data with the mean target (a constant liar),
    which lowers the optimism around it, so parallel workers spread out.
    """
    n = len(inputs)
    data_x = inputs[max(0, n - window) :]
    data_y = targets[max(0, n - window) :]
    if len(running):
        liar = np.full(len(running), float(data_y.mean()) if len(data_y) else 0.0)
        data_x = np.vstack([data_x, running])
        data_y = np.concatenate([data_y, liar])
    return GaussianProcessCritic(data_x, data_y, params)
