# Sourced by scripts/run and scripts/test: create or reuse a virtual environment outside the clone,
# keyed by a hash of pyproject.toml, and install mcpgw into it (editable) with the given extras.
# Works on a machine that has nothing but python3 >= 3.11.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
py="${MCPGW_PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      py="$cand"; break
    fi
  done
fi
[ -n "$py" ] || { echo "mcpgw needs Python >= 3.11 (set MCPGW_PYTHON to one)" >&2; exit 1; }
key="$(cat "$repo/pyproject.toml" | sha256sum | cut -c1-12)-$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')${extras:+-$extras}"
cache="${MCPGW_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcpgw-venvs}"
venv="$cache/$key"
# pip, quiet, without the warnings this machine's pip config prints about local mirrors that may be absent;
# its exit status is pip's (pipefail).
pip_quiet() { "$venv/bin/python" -m pip --quiet "$@" 2>&1 | { grep -v "is ignored: it is neither" >&2 || true; }; }
if [ ! -f "$venv/.complete" ]; then
  echo "mcpgw: setting up a virtual environment in $venv (once per pyproject.toml change)…" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  pip_quiet install --upgrade pip
  pip_quiet install -e "$repo${extras:+[$extras]}" || { echo "mcpgw: installing into $venv failed" >&2; exit 1; }
  touch "$venv/.complete"
else
  # Re-link the editable install when this clone is not the one the venv was made from.
  if ! "$venv/bin/python" -c "import mcpgw, sys, os; sys.exit(os.path.dirname(os.path.dirname(os.path.realpath(mcpgw.__file__))) != os.path.realpath('$repo'))" 2>/dev/null; then
    pip_quiet install --no-deps -e "$repo"
  fi
fi
export MCPGW_VENV="$venv"
export PATH="$venv/bin:$PATH"
