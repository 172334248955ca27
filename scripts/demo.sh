#!/usr/bin/env bash
# `npm run demo`: installs what is missing, then runs the local demo world (scripts/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
exec npx tsx scripts/demo.ts "$@"
