#!/usr/bin/env bash
# Baton's one entry point on a fresh machine: installs what is missing, builds, runs.
#   ./baton.sh demo [--hold]        the cluster demo (as root: namespace hosts, real hand-offs;
#                                   otherwise local mode; --mode handoff|local|relay)
#   ./baton.sh test                 every test: unit and cluster (cluster tests need root)
#   ./baton.sh bench [compare]      the hand-off benchmark (bench/run.sh); with compare: against
#                                   YARP, HAProxy and nginx (bench/compare.sh)
#   ./baton.sh <baton command...>   any other baton command (router, agent, --help)
set -euo pipefail
cd "$(dirname "$0")"

ensure_packages() {
  # libnftables1: in-process flow steering; nftables: the nft CLI the tests inspect state with;
  # iproute2: namespaces and veth; util-linux: setpriv (privilege tests); tcpdump: the captures the
  # one-owner test checks the wire with; nginx-light: the origin
  # the relay tests start themselves (its system service must never run). libbpf1: eBPF flow
  # steering; clang-14 and linux-libc-dev: the test that rebuilds the committed eBPF object
  # (src/Baton.Core/Steering/Bpf/build.sh) and checks it matches. ethtool: NAPI on a lab veth, which
  # frames sent back out by XDP (Baton:Xdp) need.
  local missing=()
  [ -e /usr/lib/x86_64-linux-gnu/libnftables.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libnftables.so.1 ] || missing+=(libnftables1)
  command -v nft >/dev/null || missing+=(nftables)
  command -v tcpdump >/dev/null || [ -x /usr/sbin/tcpdump ] || [ -x /usr/bin/tcpdump ] || missing+=(tcpdump)
  command -v ethtool >/dev/null || [ -x /usr/sbin/ethtool ] || [ -x /sbin/ethtool ] || missing+=(ethtool)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v setpriv >/dev/null || missing+=(util-linux)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  [ -e /usr/lib/x86_64-linux-gnu/libbpf.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libbpf.so.1 ] || missing+=(libbpf1)
  command -v clang-14 >/dev/null || missing+=(clang-14)
  [ -e /usr/include/linux/bpf.h ] || missing+=(linux-libc-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "baton.sh: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
      exit 2
    fi
    echo "baton.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    # A policy-rc.d that answers 101 keeps the packages' services from starting (nginx would
    # otherwise listen on :80); an existing one (Docker images ship it) is left as it is.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || rc=$?
    [ "$own_policy" -eq 0 ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || exit "$rc"
    # Not started now, and not at the next boot either.
    if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v systemctl >/dev/null; then
      systemctl disable nginx >/dev/null 2>&1 || true
    fi
  fi
}

build() {
  dotnet build -c Release Baton.slnx -nologo -v quiet -clp:ErrorsOnly
}

# exec: the signals sent to this script (kill, Ctrl-C) reach baton itself, which tears down what it made.
baton() {
  exec dotnet src/Baton.Cli/bin/Release/net10.0/baton.dll "$@"
}

cmd="${1:-help}"
case "$cmd" in
  demo)
    # Without root the demo runs in local mode, which needs none of the packages.
    [ "$(id -u)" -ne 0 ] || ensure_packages
    build; shift; baton demo "$@" ;;
  test)
    ensure_packages; build
    log=$(mktemp)
    set +e
    dotnet test Baton.slnx -c Release --no-build -nologo 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    # One closing line for every test project together.
    sed -nE 's/.*Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+).*/\1 \2 \3/p' "$log" \
      | awk '{f+=$1; p+=$2; s+=$3} END {printf "tests: %d passed, %d failed, %d skipped\n", p, f, s; if (p == 0) exit 1}' || rc=1
    rm -f "$log"
    exit "$rc" ;;
  bench)
    ensure_packages; shift; exec bench/run.sh "$@" ;;
  help|-h|--help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    ensure_packages; build; baton "$@" ;;
esac
