#!/usr/bin/env bash
# Create or refresh .venv/ with formshield installed (editable) and, with --dev, the test tools.
# Finds a Python >= 3.12 (mitmproxy 12 needs it) on a fresh machine, or stops with a clear message.
# Re-running is cheap: the venv is rebuilt only when pyproject.toml changed or the venv is broken.
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=0
[[ "${1:-}" == "--dev" ]] && want_dev=1

is_new_enough() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null
}

find_python() {
    local candidates=()
    [[ -n "${FORMSHIELD_PYTHON:-}" ]] && candidates+=("$FORMSHIELD_PYTHON")
    candidates+=(python3.13 python3.12)
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root=$(pyenv root)
        for v in $(ls -1 "$root/versions" 2>/dev/null | sort -rV); do
            candidates+=("$root/versions/$v/bin/python3")
        done
    fi
    candidates+=(python3 python)
    for c in "${candidates[@]}"; do
        local path
        path=$(command -v "$c" 2>/dev/null) || continue
        if is_new_enough "$path"; then
            echo "$path"
            return 0
        fi
    done
    return 1
}

stamp=.venv/.formshield-stamp
want_stamp="$(sha256sum pyproject.toml | cut -c1-16)-dev$want_dev"
if [[ -x .venv/bin/formshield && -f $stamp ]] && is_new_enough .venv/bin/python; then
    have=$(cat "$stamp")
    # A dev venv also serves a plain run.
    if [[ "$have" == "$want_stamp" || ( $want_dev == 0 && "$have" == "${want_stamp%-dev0}-dev1" ) ]]; then
        exit 0
    fi
fi

if ! python=$(find_python); then
    echo "formshield needs Python >= 3.12 (mitmproxy 12 requires it) and none was found." >&2
    echo "Install one (e.g. 'pyenv install 3.12' or your distribution's python3.12 package)," >&2
    echo "or point FORMSHIELD_PYTHON at it, then run this command again." >&2
    exit 3
fi

if [[ ! -x .venv/bin/python ]] || ! is_new_enough .venv/bin/python; then
    rm -rf .venv
    echo "Creating .venv with $python ($("$python" --version))" >&2
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if (( want_dev )); then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
fi
echo "$want_stamp" > "$stamp"
