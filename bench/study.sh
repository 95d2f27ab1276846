#!/usr/bin/env bash
# The study of README's "Search quality against ground truth": each setting searched with seeds 0-9
# on spaces/bench201.space and scored by lookup in bench/bench201.table.json (deno task table builds
# it). Each line is resumable (finished seeds are kept in the output folder); every line rewrites
# runs/lookup-bench201/lookup.md and lookup.svg with all rows so far. Usage: bash bench/study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${STUDY_OUT:-runs/lookup-bench201}
lookup() {
  deno task compare spaces/bench201.space --table bench/bench201.table.json --seeds 0-9 --out "$out" \
    --threads 1 "$@"
}

# ASAP with the quickstart's former schedule: T = 1.0·0.6^epoch, 2 grace epochs, α's lr 10× the paper's.
lookup --algorithms asap --label asap-quickstart --set t0=1.0 --set beta=0.6 --set grace_epochs=2 --set alpha_lr=0.01 --set max_epochs=10
# Grace tied to T as in Algorithm 1 (α frozen while T ≥ τ = 1), T = 2.0·0.75^epoch, the same α lr.
lookup --algorithms asap --label asap-grace-T --set t0=2.0 --set beta=0.75 --set grace_temperature=1 --set alpha_lr=0.01 --set max_epochs=10
# The same with α lr 3e-3.
lookup --algorithms asap --label asap-alpha-lr-0.003 --set t0=2.0 --set beta=0.75 --set grace_temperature=1 --set alpha_lr=0.003 --set max_epochs=10
# The same with the paper's α lr (1e-3, supplement 6.2.1): bench201's default while the study ran,
# the row labelled "asap" in bench/study.md.
lookup --algorithms asap --label asap-alpha-lr-0.001 --set max_epochs=10 --set alpha_lr=0.001
# DARTS mode (T = 1, no pruning, argmax at the end) and the two pruning baselines of section 4.4.
lookup --algorithms darts,magnitude,accumulated_gradient --search-epochs 10
lookup --algorithms darts --label darts-20-epochs --search-epochs 20
# Searches twice as long (T reaches 2.0·0.75^20 = 0.006), so that pruning runs further towards
# Algorithm 1's end (one op per edge) before the argmax: with the paper's α lr and with 1e-2.
lookup --algorithms asap --label asap-20-epochs --set alpha_lr=0.001
# bench201's default since the study (the row "asap-grace-T-20-epochs" in bench/study.md).
lookup --algorithms asap
# The two best settings again on held-out seeds, with DARTS and random cells.
out=runs/lookup-bench201-heldout
held() { deno task compare spaces/bench201.space --table bench/bench201.table.json --seeds 10-19 --out "$out" --threads 1 "$@"; }
held --algorithms asap --label asap-alpha-lr-0.001 --set max_epochs=10 --set alpha_lr=0.001
held --algorithms asap
held --algorithms darts,random --search-epochs 10
out=${STUDY_OUT:-runs/lookup-bench201}
# One random cell per seed, and random search given the same seed's asap search time.
lookup --algorithms random,random_search
