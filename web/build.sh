#!/bin/sh
# Builds the Bouchon dashboard's static assets into one folder, served by `bouchon serve --assets DIR`.
# usage: web/build.sh [OUTPUT_DIR]        (default: build/web at the repository root)
# Needs node/npm only the first time (npm ci installs Leaflet from web/package-lock.json);
# nothing is fetched at run time: the page loads only files from OUTPUT_DIR and the API.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../build/web"}

if [ ! -f "$here/node_modules/leaflet/dist/leaflet.js" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

dist="$here/node_modules/leaflet/dist"
mkdir -p "$out/images"
cp "$here/index.html" "$here/app.js" "$here/style.css" "$out/"
cp "$dist/leaflet.js" "$dist/leaflet.css" "$out/"
cp "$dist/images/"*.png "$out/images/"
cp "$here/node_modules/leaflet/LICENSE" "$out/leaflet-LICENSE.txt"

echo "dashboard assets in $(cd "$out" && pwd)"
