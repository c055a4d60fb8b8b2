#!/usr/bin/env bash
# Smoke test of a built bundle (or an installed one: /opt/counter-app): its --help lists the commands,
# its `settle` passes the shared worked examples, it starts offscreen to scan-ready on a fresh demo
# database, then again on the same one (the cold start recorded in bench/RESULTS.md), and it settles
# a visit through the window and prints its slip (`run --smoke-visit`; read back with pdftotext).
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
# a visit settled through the window, and its slip read back with its settlement number (issue 27)
out=$(COUNTER_APP_PASSWORD=1234 "$exe" run --db "$db" --sign-in c001 --slips "$work/slips" --smoke-visit \
  2> >(grep -v propagateSizeHints >&2))
echo "$out" | grep "smoke visit"
setl=$(echo "$out" | sed -n 's/^smoke visit: settled \([^,]*\), slip .*$/\1/p')
slip=$(echo "$out" | sed -n 's/^smoke visit: settled [^,]*, slip \(.*\)$/\1/p')
[ -n "$setl" ] && [ -s "$slip" ] || { echo "smoke: no slip written" >&2; exit 1; }
pdftotext "$slip" - | tr -d '\n' | grep -q "$setl" || { echo "smoke: the slip does not read back" >&2; exit 1; }
echo "smoke: slip $slip reads back with $setl"
grep -q "signed in: c001" "$work/logs/counter.log" || { echo "smoke: nothing logged" >&2; exit 1; }
echo "smoke: bundle size $(du -sh "$bundle" | cut -f1); passed"
