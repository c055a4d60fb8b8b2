#!/usr/bin/env bash
# Package the bundle (dist/counter-app, from tools/build-bundle.sh) as a .deb for Debian-based
# desktops (UOS, Kylin, Debian, Ubuntu): the bundle under /opt/counter-app, the `counter-app`
# command, a desktop entry with its icon. Writes dist/counter-app_VERSION_ARCH.deb.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/counter-app/counter-app ] || { echo "build-deb: build the bundle first (tools/build-bundle.sh)" >&2; exit 1; }
version=$(.venv/bin/python -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
         "$root/usr/share/icons/hicolor/256x256/apps"
cp -a dist/counter-app "$root/opt/counter-app"
ln -s /opt/counter-app/counter-app "$root/usr/bin/counter-app"
cp packaging/counter-app.png "$root/usr/share/icons/hicolor/256x256/apps/counter-app.png"
cp packaging/counter-app.desktop "$root/usr/share/applications/counter-app.desktop"
size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: counter-app
Version: $version
Architecture: $arch
Maintainer: counter_app team <it@counter-app.invalid>
Installed-Size: $size
Depends: libegl1, libgl1, libglib2.0-0, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, libdbus-1-3,
 libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, libxcb-xinerama0, libxcb-randr0,
 libxcb-render-util0, libxcb-image0
Section: misc
Priority: optional
Description: 医保收费窗口 — billing counter for medical insurance
 Settlement (outpatient mutual aid, family accounts), slips, upload to the
 insurance centre, for the counters of hospitals and pharmacies.
CONTROL
out="dist/counter-app_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "build-deb: $out ($(du -h "$out" | cut -f1))"
