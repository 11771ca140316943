#!/usr/bin/env bash
# The nightly benchmark: builds in release, runs the divan benches (ingest, estimation,
# weighting) and the end-to-end runs on generated waves of 1,000,000 and 10,000,000 rows
# (generated once into target/bench-data/, cached by rows and seed) with the GGD workload
# beside DuckDB (load + the same weighted GROUP BY, from the venv of tests/interop/venv.sh), writes
# output/bench/<date>.json and compares it with the previous result there. Exits 1 on a
# regression beyond the noise thresholds (benches/nightly/results.rs, benches/README.md).
#
#   bash benches/nightly.sh                       # the full run, about 10 minutes on 2 cores
#   NIGHTLY_ROWS=1000000 bash benches/nightly.sh  # end to end at 1M rows only
# It also runs the CSV differential test at 100,000 cases (about 90 s, test profile).
set -euo pipefail
cd "$(dirname "$0")/.."

export NIGHTLY_DIVAN_DIR="${NIGHTLY_DIVAN_DIR:-target/bench-data/divan}"
export NIGHTLY_OUT="${NIGHTLY_OUT:-output/bench}"
mkdir -p "$NIGHTLY_DIVAN_DIR"

cargo build --release --quiet
# The divan suites twice, minutes apart: a figure that regressed counts only if the second run
# finds it too (benches/nightly.rs reads divan-<bench>-again.txt as the second opinion).
for run in "" "-again"; do
    for bench in ingest estimation weighting; do
        echo "== cargo bench --bench $bench${run:+ (again)}" >&2
        cargo bench --quiet --bench "$bench" | tee "$NIGHTLY_DIVAN_DIR/divan-$bench$run.txt"
    done
done
echo "== the CSV readers against the csv crate, 2 x 50,000 cases" >&2
PEILING_CSV_CASES=50000 cargo test --quiet --test it csv_differential
# The DuckDB peer runs in the pinned venv of the interop check (tests/interop/venv.sh).
if NIGHTLY_PYTHON="$(bash tests/interop/venv.sh)"; then
    export NIGHTLY_PYTHON
else
    echo "== no Python 3.11+ (or no PyPI the first time): the DuckDB peer is skipped" >&2
fi
echo "== end to end, results and comparison" >&2
cargo bench --quiet --bench nightly
