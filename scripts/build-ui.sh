#!/usr/bin/env bash
# Build the web UI's bundle (ui/ -> src/orca/server/ui/) when it is missing or older than
# its sources; `--force` builds it anyway. Node.js (>= 20.19) and npm come from the machine;
# without them this stops with the fix. npm ci installs exactly package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/orca/server/ui/index.html

if [ "${1:-}" != --force ] && [ -f "$out" ] &&
    [ -z "$(find ui/src ui/index.html ui/package-lock.json ui/vite.config.ts ui/tsconfig.json -newer "$out" -print -quit)" ]; then
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "error: building the web UI needs Node.js 20.19 or newer and npm, and this machine has none" >&2
    echo "fix: install Node.js 20.19 or newer with npm (https://nodejs.org, or NodeSource's packages; Debian 12's own nodejs is 18, too old for Vite), then run make ui" >&2
    exit 1
fi
# Vite 8 needs 20.19 or newer (Debian 12's own nodejs, 18.20, is too old)
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "error: building the web UI needs Node.js 20.19 or newer; this machine has $(node --version)" >&2
    echo "fix: install Node.js 20.19 or newer (https://nodejs.org, or NodeSource's packages), then run make ui" >&2
    exit 1
fi
cd ui
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build >/dev/null
echo "ui: built src/orca/server/ui/" >&2
