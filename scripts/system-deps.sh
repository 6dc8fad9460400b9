#!/usr/bin/env bash
# System packages that pip cannot install and the tests need:
# - bubblewrap (bwrap), the sandbox of the shell and python tools;
# - chromium (/usr/bin/chromium), the browser of the web UI's end-to-end tests (tests/ui/,
#   Playwright for Python drives it; `playwright install` is never run), with a font so
#   that its screenshots show text (fonts-dejavu-core; most machines have it already);
# - postgresql (initdb, pg_ctl, postgres), whose server binaries the PostgreSQL tests run
#   as a private cluster in a temporary folder (tests/_pg.py); the package's own system
#   service is not used (nothing is started here).
# Idempotent: installs only what is missing, with apt-get, when running as root; elsewhere
# it says what to install. Under CI=true a package still missing fails (the tests would
# fail on it anyway, never skip).
#
# Node.js (>= 20.19, for Vite) and npm build the UI (scripts/build-ui.sh checks them). They
# are not installed here: Debian 12's nodejs is 18.20, too old for Vite 8, so the machine's
# own Node.js (nodesource, nvm, ...) is used; build-ui.sh names the fix when it is missing.
set -euo pipefail

# where the browser tests look for it (tests/ui/_browser.py reads the same variable)
chromium=${ORCA_UI_CHROMIUM:-/usr/bin/chromium}
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -x "$chromium" ] || missing+=(chromium)
pg_bin() {
    command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1
}
pg_bin || missing+=(postgresql)
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list 2>/dev/null | head -n 1)" ]; then
    missing+=(fonts-dejavu-core)
elif ! command -v fc-list >/dev/null 2>&1 && [ ! -d /usr/share/fonts/truetype/dejavu ]; then
    missing+=(fonts-dejavu-core)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

present() {
    command -v bwrap >/dev/null 2>&1 && [ -x "$chromium" ] && pg_bin
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    echo "system-deps: installing ${missing[*]}" >&2
    # a fresh machine may have no package lists yet
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    }
    present && exit 0
fi

echo "system-deps: missing ${missing[*]}; install it (Debian/Ubuntu: apt-get install ${missing[*]}; Fedora: dnf install ${missing[*]})" >&2
if [ "${CI:-}" = true ]; then
    exit 1
fi
