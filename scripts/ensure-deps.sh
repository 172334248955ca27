#!/usr/bin/env bash
# Makes a fresh clone runnable: Debian packages, then node_modules matching package-lock.json.
# Shared by `npm test` and `npm run demo`; idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-system-deps.sh

# Electron's postinstall would download its binary; there is no such download here, and the
# tests run the main-process services in plain Node and the renderer in Debian's Chromium.
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
stamp=node_modules/.ssmax-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "node modules: npm ci"
  npm ci --no-fund --no-audit
  echo "$want" > "$stamp"
else
  echo "node modules: up to date"
fi
