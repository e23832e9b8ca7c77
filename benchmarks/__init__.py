"""Head-to-head benchmarks of CascadeSampler against Optuna's samplers (see ``benchmarks/README.md``)."""
