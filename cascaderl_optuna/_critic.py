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


def _matern52(x1: torch.Tensor, x2: torch.Tensor, log_ls: torch.Tensor, log_sig: torch.Tensor) -> torch.Tensor:
    d = (x1[:, None, :] - x2[None, :, :]) / log_ls.exp()
    r = (d.square().sum(-1) + 1e-12).sqrt()
    return log_sig.exp() * (1 + _SQRT5 * r + 5.0 / 3.0 * r.square()) * torch.exp(-_SQRT5 * r)


def fit_kernel(x: np.ndarray, y: np.ndarray) -> KernelParams:
    """Maximise the GP marginal likelihood (plus prior) over the hyperparameters."""
    xt = torch.tensor(x, dtype=torch.float64)
    yt = torch.tensor(_standardise(y), dtype=torch.float64)
    n, dim = xt.shape
    log_ls = torch.full((dim,), _LENGTHSCALE_PRIOR_MEAN, dtype=torch.float64, requires_grad=True)
    log_sig = torch.zeros((), dtype=torch.float64, requires_grad=True)
    log_noise = torch.tensor(math.log(0.05), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [log_ls, log_sig, log_noise], max_iter=_FIT_ITERATIONS, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        noise = log_noise.exp() + _NOISE_FLOOR
        k = _matern52(xt, xt, log_ls, log_sig) + (noise + _JITTER) * torch.eye(n, dtype=torch.float64)
        chol = torch.linalg.cholesky(k)
        alpha = torch.cholesky_solve(yt[:, None], chol)[:, 0]
        nll = 0.5 * yt @ alpha + chol.diagonal().log().sum()
        prior = 0.5 * (((log_ls - _LENGTHSCALE_PRIOR_MEAN) / _LENGTHSCALE_PRIOR_STD) ** 2).sum()
        prior = prior + 0.5 * log_sig**2 + 0.5 * ((log_noise - math.log(0.05)) / 2.0) ** 2
        loss = (nll + prior) / n
        loss.backward()
        return loss

    try:
        optimiser.step(closure)
    except (RuntimeError, torch.linalg.LinAlgError):  # pragma: no cover - ill-conditioned data
        pass
    ls = log_ls.detach().numpy().clip(math.log(1e-2), math.log(1e2))
    return KernelParams(ls, float(log_sig.detach().clamp(-5, 5)), float(log_noise.detach().clamp(-10, 2)))


def _standardise(y: np.ndarray) -> np.ndarray:
    std = y.std()
    return (y - y.mean()) / (std if std > 1e-12 else 1.0)


class GaussianProcessCritic:
    """Posterior of the GP given data and fixed hyperparameters."""

    def __init__(self, x: np.ndarray, y: np.ndarray, params: KernelParams) -> None:
        self._x = torch.tensor(x, dtype=torch.float64)
        self._mean = float(y.mean())
        self._scale = float(y.std()) if y.std() > 1e-12 else 1.0
        yt = torch.tensor((y - self._mean) / self._scale, dtype=torch.float64)
        self._log_ls = torch.tensor(params.log_lengthscale, dtype=torch.float64)
        self._log_sig = torch.tensor(params.log_signal, dtype=torch.float64)
        noise = math.exp(params.log_noise) + _NOISE_FLOOR
        k = _matern52(self._x, self._x, self._log_ls, self._log_sig)
        k = k + (noise + _JITTER) * torch.eye(len(yt), dtype=torch.float64)
        self._chol = torch.linalg.cholesky(k)
        self._alpha = torch.cholesky_solve(yt[:, None], self._chol)[:, 0]

    def input_similarity(self, x: np.ndarray, query: np.ndarray, dims: slice) -> np.ndarray:
        """Kernel correlation (in [0, 1]) between rows of ``x`` and ``query`` on ``dims`` only.

        On the strategy code this says how much the critic believes a trial's strategy behaves
        like ``query``'s: a mismatch on a head with a long length scale barely lowers it.
        """
        ls = self._log_ls[dims]
        corr = _matern52(
            torch.tensor(x[:, dims], dtype=torch.float64),
            torch.tensor(query[None, dims], dtype=torch.float64),
            ls,
            torch.zeros((), dtype=torch.float64),
        )
        return corr[:, 0].numpy()

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (in utility units) at ``xq``."""
        q = torch.tensor(xq, dtype=torch.float64)
        ks = _matern52(q, self._x, self._log_ls, self._log_sig)
        mean = ks @ self._alpha
        v = torch.linalg.solve_triangular(self._chol, ks.T, upper=False)
        var = (self._log_sig.exp() - v.square().sum(0)).clamp_min(1e-12)
        return (
            (mean * self._scale + self._mean).numpy(),
            (var.sqrt() * self._scale).numpy(),
        )
