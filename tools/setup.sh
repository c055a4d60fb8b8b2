#!/usr/bin/env bash
# Set up a fresh machine for counter_app: the system libraries Qt needs headless, fonts and PDF
# tools (Debian/Ubuntu, when run as root), then a virtual environment in .venv with the project
# and its test dependencies. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

system_packages=(
  libegl1 libgl1 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
  libxcb-render-util0 libxcb-image0 poppler-utils
)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv

# pip runs only when pyproject.toml changed since the last good install (or the check below fails);
# its own errors are shown as they are, and a failed install stops here with pip's exit code.
stamp=.venv/.counter-app-setup
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
check() { .venv/bin/python -c "import counter_app, PySide6, sqlalchemy, reportlab, tomli_w, portalocker, escpos, tqdm, openpyxl, pypinyin, ruff, mypy" 2>/dev/null; }
if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] && check; then
  echo "setup: nothing changed since the last install"
  exit 0
fi
pip_quiet() {  # pip with its errors shown (and its progress, on a terminal); local-folder noise is dropped
  local log rc
  log=$(mktemp)
  if [ -t 1 ]; then
    set -- "${@/#-q/--progress-bar=on}"
  fi
  { .venv/bin/python -m pip "$@" 2>&1 && echo 0 > "$log.rc" || echo $? > "$log.rc"; } | tee "$log" |
    if [ -t 1 ]; then grep --line-buffered -v "^WARNING: Location\|^Requirement already satisfied" || true; else cat >/dev/null; fi
  rc=$(cat "$log.rc")
  if [ "$rc" != 0 ]; then
    [ -t 1 ] || grep -v "^WARNING: Location" "$log" >&2
    echo "setup: pip $* failed with exit code $rc (its output is above)" >&2
    rm -f "$log" "$log.rc"
    exit 1
  fi
  rm -f "$log" "$log.rc"
}
echo "setup: installing the Python packages into .venv (a minute or two on a fresh machine)"
pip_quiet install -q --upgrade pip
pip_quiet install -q -e ".[test]"
check || { .venv/bin/python -c "import counter_app, PySide6, sqlalchemy, reportlab, tomli_w, portalocker, escpos, tqdm, openpyxl, pypinyin, ruff, mypy";
           echo "setup: the virtual environment is incomplete (the import error is above)" >&2; exit 1; }
echo "$wanted" > "$stamp"
echo "setup: done"
