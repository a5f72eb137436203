#!/usr/bin/env bash
# Baton against YARP, HAProxy and nginx (as root): bench/compare.sh [options]
#   (also: bench/run.sh compare ..., ./baton.sh bench compare ...)
# Installs wrk, haproxy and nginx-light from Debian if missing (services never started), builds
# Release (bench/Baton.Compare, bench/YarpHost), builds a btbench2-* namespace cluster on
# 10.77.11.0/24, runs every contender against the same origins with the same wrk load, tears it all
# down, and writes docs/benchmarks/compare.md, compare-runs.csv and cpu-per-request.png.
# Options (defaults): --contenders direct,handoff,handoff-forward,adaptive,local,relay,yarp,haproxy,nginx
#   --sizes 1024,16384,262144,1048576,10485760 --connections 4,32 --runs 3 --duration 5 --out docs/benchmarks
#   --from-csv FILE: only rewrite the report and the plot from a previous run's CSV.
#   --origin baton|nginx|sample (the server every contender fronts); --chunked: /stream/N, sent chunked (sample only).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

report_only=0
for a in "$@"; do [ "$a" != "--from-csv" ] || report_only=1; done

if [ "$report_only" -eq 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench/compare.sh needs root: it builds network namespaces and hands off TCP connections (CAP_NET_ADMIN)" >&2
        exit 2
    fi
    missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
    [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v ethtool >/dev/null || [ -x /usr/sbin/ethtool ] || missing+=(ethtool)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} ..."
        apt-get update -qq
        # A policy-rc.d answering 101 keeps haproxy and nginx from starting as services (an existing
        # one is left as it is); they are also disabled for the next boot.
        policy=/usr/sbin/policy-rc.d own_policy=0
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
        fi
        rc=0
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || rc=$?
        [ "$own_policy" -eq 0 ] || rm -f "$policy"
        [ "$rc" -eq 0 ] || exit "$rc"
        if command -v systemctl >/dev/null; then systemctl disable haproxy nginx >/dev/null 2>&1 || true; fi
    fi
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for project in bench/YarpHost bench/Baton.Compare; do
    built=0
    for attempt in 1 2 3 4 5; do
        echo "building $project (Release, attempt $attempt) ..."
        if dotnet build -c Release -nologo -v q "$project" >"$log" 2>&1; then built=1; break; fi
        # Another build of the same solution may hold obj/ files: wait and retry.
        grep -E 'error' "$log" | sort -u | head -5 || true
        [ "$attempt" -eq 5 ] || sleep 20
    done
    if [ "$built" -ne 1 ]; then cat "$log" >&2; echo "bench/compare.sh: build of $project failed" >&2; exit 1; fi
done

commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ -n "$(git status --porcelain -- src 2>/dev/null)" ]; then commit="$commit+dirty"; fi
exec dotnet "$here/Baton.Compare/bin/Release/net10.0/Baton.Compare.dll" \
    --yarp "$here/YarpHost/bin/Release/net10.0/YarpHost.dll" --commit "$commit" "$@"
