"""The high level's pre-trained feature weights (``CascadeSampler(high_level_theta="pretrained")``).

``python -m benchmarks.pretraining`` learns them with PPO over synthetic studies and writes
``weights/high_level.json`` beside this module: plain JSON (the weights, the feature names they
belong to, the settings and the held-out figures of each round), never pickle. The sampler only
reads the file; the training code stays with the benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cascaderl_optuna._cascade.encoding import FEATURE_NAMES


WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "high_level.json"


def load_pretrained_theta(path: Path = WEIGHTS_PATH) -> np.ndarray:
    """The pre-trained feature weights, checked against the features this version encodes."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no pre-trained high-level weights at {path}: run `python -m benchmarks.pretraining` "
            "from a checkout to create them, or leave high_level_theta unset to use the built-in prior"
        ) from None
    theta = np.asarray(data["theta"], dtype=float)
    if theta.shape != (len(FEATURE_NAMES),) or list(data["features"]) != list(FEATURE_NAMES):
        raise ValueError(
            f"{path} holds weights for features {data.get('features')}, but this version encodes "
            f"{list(FEATURE_NAMES)}: re-run `python -m benchmarks.pretraining`"
        )
    return theta
