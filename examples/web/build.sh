#!/usr/bin/env bash
# Builds the demo page's wasm into examples/web/pkg (release; --dev for the dev profile, as
# the browser test does, reusing the test suite's build). Needs the wasm32 target and a
# wasm-bindgen CLI of the version Cargo.lock pins.
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=release
[ "${1:-}" = "--dev" ] && profile=dev
cargo build -p kiln-web --lib --target wasm32-unknown-unknown --profile "$profile"
dir=$([ "$profile" = dev ] && echo debug || echo release)
wasm-bindgen --target web --no-typescript --out-dir examples/web/pkg \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$dir/kiln_web.wasm"
