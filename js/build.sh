#!/bin/sh
# Build js/dist/t.js from js/src/t.js (installs terser from package-lock.json on first use).
set -eu
cd "$(dirname "$0")"
[ -d node_modules/terser ] || npm ci --no-audit --no-fund --silent
node build.js "$@"
python3 check_size.py dist/t.js
