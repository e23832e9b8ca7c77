"""A real training task: a one-hidden-layer torch MLP trained on scikit-learn's digits data (8x8 images, 10
classes, 1,797 samples; a fixed stratified 70/30 split, features standardised on the training part).

Strategic: the optimizer family (Adam, SGD with momentum, RMSprop). Tactical: one shared learning rate for all
families (``suggest_float("learning_rate", 1e-5, 1.0, log=True)``), SGD's momentum (only under SGD), weight decay,
batch size and hidden width. Each trial trains for 10 epochs with the trial's noise seed for initialisation and
batch order, so repeated configurations differ like real runs; the objective is the validation cross-entropy at the
end, capped at ``MAX_LOSS`` (a diverged run gives NaN or a huge loss). The optimum is not known.

The model and training loop are the command line's ``digits_mlp`` task's
(:func:`cascaderl_optuna.cli.tasks.digits_mlp.make_mlp` and ``train_epochs``), configured as this problem was
defined before they were shared: one hidden layer, no dropout, no schedule, no gradient clipping, no divergence
check (the capped final loss scores a diverged run). The committed rows fix every number it returns.

The training costs 0.15-1 s per trial on one core (small batches cost most, and the samplers favour them), so this
problem runs with fewer seeds and trials
than the others (see ``benchmarks/suites.py``).
"""

from __future__ import annotations

import math

import optuna
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
import torch

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params
from cascaderl_optuna.cli.tasks.digits_mlp import make_mlp
from cascaderl_optuna.cli.tasks.digits_mlp import seeded
from cascaderl_optuna.cli.tasks.digits_mlp import train_epochs


EPOCHS = 10
MAX_LOSS = 10.0
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class MLPTraining:
    strategic_params: tuple[str, ...] = ()
    reference_problem = None

    def __init__(self, dataset: str = "digits") -> None:
        if dataset != "digits":
            raise ValueError(f"unknown data set {dataset!r}")
        self.name = f"mlp_{dataset}"
        x, y = load_digits(return_X_y=True)
        x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
        scaler = StandardScaler().fit(x_tr)  # leaves pixels that are constant in the training part unscaled
        self._x_tr = torch.tensor(scaler.transform(x_tr), dtype=torch.float32)
        self._x_va = torch.tensor(scaler.transform(x_va), dtype=torch.float32)
        self._y_tr, self._y_va = torch.tensor(y_tr), torch.tensor(y_va)

    def suggest(self, trial: optuna.Trial) -> Params:
        p: Params = {"optimizer": trial.suggest_categorical("optimizer", OPTIMIZERS)}
        p["learning_rate"] = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
        if p["optimizer"] == "sgd":
            p["momentum"] = trial.suggest_float("momentum", 0.0, 0.99)
        p["weight_decay"] = trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True)
        p["batch_size"] = trial.suggest_int("batch_size", 16, 256, log=True)
        p["hidden_units"] = trial.suggest_int("hidden_units", 16, 256, log=True)
        return p

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        gen = seeded(noise_seed)
        model = make_mlp(64, (params["hidden_units"],), 10)
        lr, wd = params["learning_rate"], params["weight_decay"]
        if params["optimizer"] == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
        elif params["optimizer"] == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=params["momentum"], weight_decay=wd)
        else:
            opt = torch.optim.RMSprop(model.parameters(), lr=lr, weight_decay=wd)
        train_epochs(model, opt, self._x_tr, self._y_tr, epochs=EPOCHS, batch_size=params["batch_size"], generator=gen)
        with torch.no_grad():
            value = float(torch.nn.functional.cross_entropy(model(self._x_va), self._y_va))
        value = value if math.isfinite(value) else MAX_LOSS
        value = min(value, MAX_LOSS)
        return Evaluation(value, value)

    def optimum(self) -> None:
        return None
