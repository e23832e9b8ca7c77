#!/bin/bash
cd /work/wt-share
export PYTHONPATH=/work/wt-share OMP_NUM_THREADS=1
for s in llm_trainer llm_trainer_heldout llm_family; do
  /work/main/.venv/bin/python -m benchmarks run --suite $s --samplers cascade --results /work/scratch/decisive_results --workers 2
done
