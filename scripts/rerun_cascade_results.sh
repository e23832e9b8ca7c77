#!/usr/bin/env bash
# After a change of CascadeSampler (committed), regenerate every committed result that the cascade's code decides,
# in the order that lets each step be checked: the held-out suite first (the change's verdict), then the published
# suites, the pre-trained weights, the timing, the diagnostics, the README blocks, the reproduction
# check and the docs. Each suite's old cascade rows are deleted first and paired afterwards with those at the
# revision this starts from (revision_comparison.md). The baselines' rows are not touched.
#
#   scripts/rerun_cascade_results.sh            # about 5 hours on 2 idle cores; then re-read the README's prose
#   CHECK=1 scripts/rerun_cascade_results.sh    # the same pipeline at 1 seed x 60 trials (no reproduction check),
#                                               # in a throwaway clone only
#
# Not included: the warm-start benchmark (python -m benchmarks.warm_start, about an hour of two cores) and (one hour
# of one core) the LoRA study, `python -m benchmarks.lora_sst2 --seeds 0 1 2 3 4` after
# deleting the cascade's studies from benchmarks/results/lora_sst2/studies.db (or the whole file).
# Needs .venv (scripts/setup_env.sh test,bench,dashboard,logging,cli) and YAHPO's environment
# (python -m benchmarks setup-yahpo).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
before=$(git rev-parse --short HEAD)
if ! git diff --quiet HEAD -- cascaderl_optuna; then
    echo "commit the change of cascaderl_optuna first: the rows are paired with those at HEAD" >&2
    exit 1
fi
run_args=() ; pretrain_args=() ; alloc_args=() ; pictures_args=()
if [[ "${CHECK:-0}" == 1 ]]; then
    run_args=(--seeds 1 --trials 60)
    pretrain_args=(--rounds 1 --studies-per-round 2 --held-out 2 --trials 20)
    alloc_args=(--seeds 1 --trials 60)
    pictures_args=(--trials 15)
fi

rerun() {  # rerun SUITE SAMPLER...: delete those samplers' rows of SUITE, run them, report, pair with $before
    local suite=$1; shift
    for sampler in "$@"; do
        find "benchmarks/results/$suite" -name "$sampler.jsonl.gz" -delete 2>/dev/null || true
        find "benchmarks/results/$suite" -name "$sampler.errors.jsonl.gz" -delete 2>/dev/null || true
    done
    local workers=()
    [[ $suite == timing ]] && workers=(--workers 1)
    $py -m benchmarks run --suite "$suite" --samplers "$@" "${workers[@]}" "${run_args[@]}"
    if [[ $suite != timing ]]; then
        $py -m benchmarks report --suite "$suite"
        $py -m benchmarks.compare_revisions "$before" --suite "$suite" > "benchmarks/results/$suite/revision_comparison.md"
    fi
}

rerun heldout cascade
rerun llm_trainer_heldout cascade
rerun llm_family_heldout cascade
rerun full cascade
rerun llm_trainer cascade
rerun llm_family cascade
rerun parallel cascade
rerun uneven_4 cascade
rerun uneven_8 cascade
rerun constrained cascade
rerun lora_table cascade
# the ablation suite's cascade and tpe_independent rows are the full suite's (benchmarks.runner.SHARED_CELLS)
rerun ablation cascade $($py -c 'from benchmarks.samplers import ABLATION_SAMPLERS; print(*ABLATION_SAMPLERS)')
$py -m benchmarks.pretraining "${pretrain_args[@]}"
rerun pretraining cascade_pretrained
rerun timing cascade
for suite in full heldout parallel ablation pretraining; do  # every report carries the timing table: re-read it
    $py -m benchmarks report --suite "$suite"
done
$py -m benchmarks.high_level_allocation "${alloc_args[@]}"
for suite in llm_trainer llm_trainer_heldout llm_family; do
    $py -m benchmarks.family_allocation --suite "$suite"
done
for suite in full heldout parallel ablation pretraining llm_trainer llm_family llm_family_heldout uneven_4 uneven_8 \
    constrained lora_table; do
    $py -m benchmarks.readme --suite "$suite"
done
[[ "${CHECK:-0}" == 1 ]] || $py -m benchmarks reproduce --suite full --seeds 2
$py scripts/make_docs_pictures.py "${pictures_args[@]}"
scripts/cli_example.sh
echo "regenerated against $before; now read every revision_comparison.md and rewrite the README's prose figures"
