#!/bin/sh
# CI: rebuild the snippet into a temp file and fail when it differs from the committed
# js/dist/t.js (someone changed src/t.js or the version without running `npm run build`),
# then check the size budget. Run from anywhere.
set -eu
cd "$(dirname "$0")"
[ -d node_modules/terser ] || npm ci --no-audit --no-fund --silent
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
node build.js "$tmp"
if ! cmp -s "$tmp" dist/t.js; then
    echo "js/dist/t.js is not the build of js/src/t.js: run 'npm run build' in js/ and commit it" >&2
    diff "$tmp" dist/t.js >&2 || true
    exit 1
fi
python3 check_size.py dist/t.js
