#!/usr/bin/env bash
# Smoke test of a built bundle (or an installed one: /opt/counter-app): its --help lists the commands,
# its `settle` passes the shared worked examples, and it starts offscreen to scan-ready on a fresh
# demo database, then again on the same one (the cold start recorded in bench/RESULTS.md).
#   tools/smoke-bundle.sh [BUNDLE_FOLDER]     (default dist/counter-app)
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-dist/counter-app}
exe="$bundle/counter-app"
[ -x "$exe" ] || { echo "smoke: no executable at $exe" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export COUNTER_APP_CONFIG="$work/counter.toml" COUNTER_APP_LOG_DIR="$work/logs" QT_QPA_PLATFORM=offscreen

"$exe" --help | grep -q "restore FILE" || { echo "smoke: --help does not list the commands" >&2; exit 1; }
echo "smoke: --help lists the commands"

if [ -f ../shared/spec/examples/run-examples ]; then
  COUNTER_APP="$exe" python3 ../shared/spec/examples/run-examples
else
  echo "smoke: ../shared/spec/examples not found; worked examples not run"
fi

db="sqlite:///$work/demo.sqlite3"
COUNTER_APP_PASSWORD=1234 "$exe" run --demo --persons 300 --db "$db" --sign-in c001 --exit-when-ready \
  2> >(grep -v propagateSizeHints >&2)
for n in 1 2 3; do  # cold starts on the existing database
  COUNTER_APP_PASSWORD=1234 "$exe" run --db "$db" --sign-in c001 --exit-when-ready 2> >(grep -v propagateSizeHints >&2)
done
grep -q "signed in: c001" "$work/logs/counter.log" || { echo "smoke: nothing logged" >&2; exit 1; }
echo "smoke: bundle size $(du -sh "$bundle" | cut -f1); passed"
