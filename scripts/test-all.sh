#!/usr/bin/env bash
# `npm test`: everything CI checks, from a fresh clone. Prints `N passed, N failed` last.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
exec npx tsx scripts/run-checks.ts "$@"
