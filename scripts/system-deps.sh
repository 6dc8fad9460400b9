#!/usr/bin/env bash
# System packages that pip cannot install and the tests need: bubblewrap (bwrap), the
# sandbox of the shell and python tools. Idempotent: installs only what is missing, with
# apt-get, when running as root; elsewhere it says what to install. Under CI=true a
# package still missing fails (the tests would fail on it anyway, never skip).
set -euo pipefail

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    echo "system-deps: installing ${missing[*]}" >&2
    # a fresh machine may have no package lists yet
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    }
    command -v bwrap >/dev/null 2>&1 && exit 0
fi

echo "system-deps: missing ${missing[*]}; install it (Debian/Ubuntu: apt-get install ${missing[*]}; Fedora: dnf install ${missing[*]})" >&2
if [ "${CI:-}" = true ]; then
    exit 1
fi
