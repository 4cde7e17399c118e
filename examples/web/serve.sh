#!/usr/bin/env bash
# Builds the demo page and serves it on http://127.0.0.1:${PORT:-8000}/ (open it in a browser
# with WebGPU: Chrome, Edge, or Firefox and Safari where it is enabled).
set -euo pipefail
cd "$(dirname "$0")"
./build.sh
echo "serving http://127.0.0.1:${PORT:-8000}/"
exec python3 -m http.server --bind 127.0.0.1 --directory . "${PORT:-8000}"
