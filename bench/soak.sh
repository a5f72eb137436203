#!/usr/bin/env bash
# The concurrency soak (as root): bench/soak.sh [options]   (also: ./baton.sh bench soak ...)
# Many keep-alive connections send a random mix (GETs of 0 B–4 MiB, uploads up to 1 MB echoed,
# router-served requests), every byte verified, against handoff, relay and HAProxy on one btsoak-*
# namespace cluster (10.77.13.0/24), without loss and then with random loss; writes
# bench/results/soak.md. Installs haproxy from Debian if missing (its service never started).
# Options (defaults): --contenders handoff,relay,haproxy --connections 64 --requests 100000
#   --warmup 2000 --max-response 4194304 --max-upload 1000000 --loss 0,2 --kill-after 20 (a last handoff
#   run with be2's agent SIGKILLed that many seconds in; 0: none) --out bench/results/soak.md
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"
if [ "$(id -u)" -ne 0 ]; then
    echo "bench/soak.sh needs root: it builds network namespaces and hands off TCP connections (CAP_NET_ADMIN)" >&2
    exit 2
fi
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
    echo "installing haproxy ..."
    apt-get update -qq
    policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1; fi
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null || rc=$?
    [ "$own_policy" -eq 0 ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || exit "$rc"
    if command -v systemctl >/dev/null; then systemctl disable haproxy >/dev/null 2>&1 || true; fi
fi
exec 9>/tmp/baton-bench-soak.lock
if ! flock -n 9; then echo "bench/soak.sh: another soak is running (lock /tmp/baton-bench-soak.lock)" >&2; exit 2; fi
dotnet build -c Release -nologo -v q -clp:ErrorsOnly bench/Baton.Soak
commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ -n "$(git status --porcelain -- src 2>/dev/null)" ]; then commit="$commit+dirty"; fi
exec dotnet bench/Baton.Soak/bin/Release/net10.0/Baton.Soak.dll --commit "$commit" "$@"
