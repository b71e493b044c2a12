#!/usr/bin/env bash
# Puts scikit-image's sample photos (astronaut, chelsea, coffee, coins, ...) in
# data/skimage for `loupe study compare`: downloads Debian's python3-skimage package
# and unpacks only its data folder (no Python needed). Does nothing if already there.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=data/skimage
[ -f "$dest/astronaut.png" ] && exit 0
if [ -f /usr/lib/python3/dist-packages/skimage/data/astronaut.png ]; then
  mkdir -p "$dest" && cp /usr/lib/python3/dist-packages/skimage/data/*.{png,jpg} "$dest"/ && exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
(cd "$tmp" && apt-get download python3-skimage >/dev/null 2>&1) || {
  $sudo_cmd apt-get update -qq && (cd "$tmp" && apt-get download python3-skimage >/dev/null)
}
dpkg-deb -x "$tmp"/python3-skimage_*.deb "$tmp/x"
mkdir -p "$dest"
cp "$tmp"/x/usr/lib/python3/dist-packages/skimage/data/*.{png,jpg} "$dest"/
echo "loupe: scikit-image photos in $dest ($(ls "$dest" | wc -l) files)"
