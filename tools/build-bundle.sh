#!/usr/bin/env bash
# Build the one-folder bundle (PyInstaller, packaging/counter-app.spec) into dist/counter-app and
# smoke-test it (tools/smoke-bundle.sh). Takes a few minutes; not part of CI (see README).
#   tools/build-bundle.sh            build and smoke-test
#   tools/build-bundle.sh --no-smoke build only
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
.venv/bin/python -m pip install -q "pyinstaller>=6.5,<7" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
  packaging/counter-app.spec
echo "build-bundle: dist/counter-app ($(du -sh dist/counter-app | cut -f1))"
[ "${1:-}" = "--no-smoke" ] || tools/smoke-bundle.sh dist/counter-app
