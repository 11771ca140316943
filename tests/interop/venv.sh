#!/usr/bin/env bash
# The virtualenv with the pinned readers of tests/interop/requirements.txt (pyarrow, polars,
# DuckDB), made once under target/ and reused while its stamp (the hash of the requirements and
# the Python version) matches, otherwise made afresh. Prints the venv's python. Used by .ci/run
# (the interop check) and benches/nightly.sh (the DuckDB peer). Needs Python 3.11 or newer
# ($PYTHON, else python3) and, the first time, access to PyPI; exits 1 saying so otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "no Python 3.11 or newer with venv as ${python}" >&2
    exit 1
fi
venv=target/interop-venv
stamp="$venv/requirements.stamp"
want="$("$python" -c 'import hashlib, sys
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest(), sys.version.split()[0])' tests/interop/requirements.txt)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q -r tests/interop/requirements.txt >&2
    echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
