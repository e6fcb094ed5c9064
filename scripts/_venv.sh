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
if [ ! -f "$venv/.complete" ]; then
  echo "mcpgw: setting up a virtual environment in $venv (once per pyproject.toml change)…" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$repo${extras:+[$extras]}" >&2
  touch "$venv/.complete"
else
  # Re-link the editable install when this clone is not the one the venv was made from.
  if ! "$venv/bin/python" -c "import mcpgw, sys, os; sys.exit(os.path.dirname(os.path.dirname(os.path.realpath(mcpgw.__file__))) != os.path.realpath('$repo'))" 2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet --no-deps -e "$repo" >&2
  fi
fi
export MCPGW_VENV="$venv"
export PATH="$venv/bin:$PATH"
