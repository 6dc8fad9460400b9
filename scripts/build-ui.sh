#!/usr/bin/env bash
# Build the web UI's bundle (ui/ -> src/orca/server/ui/) when it is missing or older than
# its sources; `--force` builds it anyway. Node.js (>= 20) and npm come from the machine;
# without them this stops with the fix. npm ci installs exactly package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/orca/server/ui/index.html

if [ "${1:-}" != --force ] && [ -f "$out" ] &&
    [ -z "$(find ui/src ui/index.html ui/package-lock.json ui/vite.config.ts ui/tsconfig.json -newer "$out" -print -quit)" ]; then
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "error: building the web UI needs Node.js 20 or newer and npm, and this machine has none" >&2
    echo "fix: install them (Debian/Ubuntu: apt-get install nodejs npm; or https://nodejs.org), then run make ui" >&2
    exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    echo "error: building the web UI needs Node.js 20 or newer; this machine has $(node --version)" >&2
    echo "fix: install Node.js 20 or newer, then run make ui" >&2
    exit 1
fi
cd ui
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build >/dev/null
echo "ui: built src/orca/server/ui/" >&2
