#!/usr/bin/env bash
# Install the .deb (tools/build-deb.sh) into a clean Debian bookworm made by debootstrap, as a counter
# PC's IT staff would with apt, then run it there: `counter-app --help`, the shared worked examples
# through the installed `counter-app settle`, an offscreen start to scan-ready on a fresh demo
# database, and a visit settled through the window whose slip reads back (issue 27). Needs root and Debian's mirror; the chroot is kept in $CHROOT (default
# /var/tmp/counter-app-chroot) so a second run skips debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls -t dist/counter-app_*.deb | head -1)
chroot_dir=${CHROOT:-/var/tmp/counter-app-chroot}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ ! -x "$chroot_dir/usr/bin/apt-get" ]; then
  echo "test-deb: debootstrap bookworm into $chroot_dir (a few minutes, once)"
  debootstrap --variant=minbase bookworm "$chroot_dir" "$mirror" >/dev/null
fi
cleanup() { umount "$chroot_dir/proc" 2>/dev/null || true; }
trap cleanup EXIT
mountpoint -q "$chroot_dir/proc" || mount -t proc proc "$chroot_dir/proc"
cp "$deb" "$chroot_dir/tmp/counter-app.deb"
rm -rf "$chroot_dir/tmp/examples" && cp -r ../shared/spec/examples "$chroot_dir/tmp/examples"
in_chroot() { chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
in_chroot apt-get -qq update
in_chroot apt-get -y -qq install --no-install-recommends python3 poppler-utils /tmp/counter-app.deb >/dev/null
echo "test-deb: installed $(in_chroot dpkg-query -W -f='${Package} ${Version}' counter-app)"
in_chroot counter-app --help | grep -q "restore FILE"
in_chroot test -f /usr/share/applications/counter-app.desktop
in_chroot /usr/bin/env COUNTER_APP=counter-app python3 /tmp/examples/run-examples
in_chroot /usr/bin/env QT_QPA_PLATFORM=offscreen COUNTER_APP_PASSWORD=1234 \
  counter-app run --demo --persons 200 --db sqlite:////tmp/demo.sqlite3 --sign-in c001 --exit-when-ready \
  2> >(grep -v propagateSizeHints >&2)
out=$(in_chroot /usr/bin/env QT_QPA_PLATFORM=offscreen COUNTER_APP_PASSWORD=1234 \
  counter-app run --db sqlite:////tmp/demo.sqlite3 --sign-in c001 --slips /tmp/slips --smoke-visit \
  2> >(grep -v propagateSizeHints >&2))
setl=$(echo "$out" | sed -n 's/^smoke visit: settled \([^,]*\), slip .*$/\1/p')
slip=$(echo "$out" | sed -n 's/^smoke visit: settled [^,]*, slip \(.*\)$/\1/p')
[ -n "$setl" ] && in_chroot pdftotext "$slip" - | tr -d '\n' | grep -q "$setl" \
  || { echo "test-deb: the installed counter settled no visit with a slip that reads back" >&2; exit 1; }
echo "test-deb: a visit settled and its slip $slip reads back with $setl"
in_chroot apt-get -y -qq remove counter-app >/dev/null
in_chroot test ! -e /opt/counter-app/counter-app
echo "test-deb: installed, ran, removed: passed"
