#!/usr/bin/env bash
# A throw-away virtualenv holding NannyML 0.13, which pins old libraries and logs
# usage: it is never one of Verity's dependencies. Prints the venv's python.
set -euo pipefail
VENV="${NANNYML_VENV:-${TMPDIR:-/tmp}/verity-nannyml-venv}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import nannyml" >/dev/null 2>&1; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q "nannyml==0.13.1" "pandas<3" statsmodels >&2
fi
echo "$VENV/bin/python"
