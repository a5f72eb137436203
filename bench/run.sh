#!/usr/bin/env bash
# One command for the hand-off benchmark (as root): bench/run.sh [--cycles N] [--connections N] [--warmup N (3000)] [--local N]
# Builds Release, builds a btbench-* namespace cluster, runs the router and agents as real processes,
# drives hand-off+return cycles, and prints a markdown report (also written to bench/results/handoff.md).
# bench/run.sh compare [options]: Baton against YARP, HAProxy and nginx instead (bench/compare.sh).
# bench/run.sh soak [options]: the concurrency soak, handoff against relay and HAProxy (bench/soak.sh).
# bench/run.sh local [--cycles N (5000)] [--connections N (1)] [--warmup N (1000)] [--router N] [--blocks N (10)]:
# one pass and one return of local mode (router and `baton worker` processes on 127.0.0.1, no root);
# report in bench/results/local.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "${1:-}" = "compare" ]; then shift; exec "$here/compare.sh" "$@"; fi
if [ "${1:-}" = "soak" ]; then shift; exec "$here/soak.sh" "$@"; fi
repo="$(dirname "$here")"
project=Baton.Bench
report=handoff.md
if [ "${1:-}" = "local" ]; then shift; project=Baton.LocalBench; report=local.md; fi

if [ "$project" = Baton.Bench ] && [ "$(id -u)" -ne 0 ]; then
    echo "bench/run.sh needs root: it builds network namespaces and moves TCP connections with TCP_REPAIR (CAP_NET_ADMIN); run as root: bench/run.sh" >&2
    exit 2
fi

cd "$repo"
# One at a time: every run builds the same btbench-* namespaces and kills that prefix's processes
# left from a crashed run, so a second run would tear down the first one's cluster.
exec 9>"/tmp/baton-bench-$project.lock"
if ! flock -n 9; then
    echo "bench/run.sh: another $project run is in progress (lock /tmp/baton-bench-$project.lock); wait for it" >&2
    exit 2
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
built=0
for attempt in 1 2 3 4 5; do
    echo "building Release (attempt $attempt) ..."
    if dotnet build -c Release -nologo -v q "bench/$project" >"$log" 2>&1; then
        built=1
        break
    fi
    # Another build of the same solution may hold obj/ files: wait and retry.
    if [ "$attempt" -lt 5 ]; then
        echo "build failed, retrying in 20 s (a concurrent build may hold a lock):"
        grep -E 'error|warn' "$log" | sort -u | head -5 || true
        sleep 20
    fi
done
if [ "$built" -ne 1 ]; then
    cat "$log" >&2
    echo "bench/run.sh: Release build failed" >&2
    exit 1
fi

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ -n "$(git -C "$repo" status --porcelain -- src 2>/dev/null)" ]; then commit="$commit+dirty"; fi
mkdir -p "$here/results"
exec dotnet "$here/$project/bin/Release/net10.0/$project.dll" --out "$here/results/$report" --commit "$commit" "$@"
