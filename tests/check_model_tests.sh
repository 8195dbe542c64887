#!/usr/bin/env bash
# Runs the model tests N times in a row (5 by default), each with a different TEST_DATA_SEED:
# the order in which the training fixtures feed their data changes, the properties asserted do
# not. Every run must be green; prints one line per run and the counts at the end.
#   usage: tests/check_model_tests.sh [RUNS] [extra pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
shift || true
PY=${PY:-.venv/bin/python}
green=0
failed=0
for seed in $(seq 1 "$RUNS"); do
    start=$(date +%s)
    if TEST_DATA_SEED=$seed "$PY" -m pytest -q -p no:cacheprovider tests/model "$@" \
        > ".check-model-tests-$seed.log" 2>&1; then
        green=$((green + 1)); verdict=green
    else
        failed=$((failed + 1)); verdict=FAILED
    fi
    echo "run $seed (TEST_DATA_SEED=$seed): $verdict, $(tail -n 1 ".check-model-tests-$seed.log"), $(( $(date +%s) - start )) s"
done
echo "$green passed, $failed failed"
[ "$failed" -eq 0 ]
