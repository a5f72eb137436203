#!/usr/bin/env bash
# Baton's one entry point on a fresh machine: installs what is missing, builds, runs.
#   ./baton.sh demo [--hold]        the cluster demo (as root: namespace hosts, real hand-offs;
#                                   otherwise local mode; --mode handoff|local|relay)
#   ./baton.sh test                 every test: unit and cluster (cluster tests need root)
#   ./baton.sh bench [compare|soak] the hand-off benchmark (bench/run.sh); compare: against YARP,
#                                   HAProxy and nginx (bench/compare.sh); soak: under load and loss
#   ./baton.sh install [--prefix P] puts a self-contained `baton` in P/bin (default /usr/local)
#   ./baton.sh <baton command...>   any baton command: router, agent, worker, origin, demo
# Packages: demo, install and baton's own commands need only what baton loads (libbpf1,
# libnftables1, iproute2); test and bench need the tools the tests and benchmarks run too.
set -euo pipefail
cd "$(dirname "$0")"

# What baton itself loads and runs: libbpf1 (eBPF flow steering), libnftables1 (the nftables
# fallback), iproute2 (the demo's namespaces and veth).
runtime_packages() {
  [ -e /usr/lib/x86_64-linux-gnu/libbpf.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libbpf.so.1 ] || echo libbpf1
  [ -e /usr/lib/x86_64-linux-gnu/libnftables.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libnftables.so.1 ] || echo libnftables1
  command -v ip >/dev/null || echo iproute2
}

# What the tests and benchmarks run besides: nftables (the nft CLI the tests inspect state with),
# util-linux (setpriv, the privilege tests), tcpdump (the captures the one-owner tests check the
# wire with), nginx-light (the origin the relay and forwarder tests start themselves; its system
# service must never run), clang-14 and linux-libc-dev (the test that rebuilds the committed eBPF
# object, src/Baton.Core/Steering/Bpf/build.sh, and checks it matches), ethtool (a lab veth's
# offloads, which frames sent back out by XDP, Baton:Xdp, need), chromium (the headless browser the
# live view's test renders the page in).
test_packages() {
  runtime_packages
  command -v nft >/dev/null || echo nftables
  command -v setpriv >/dev/null || echo util-linux
  command -v tcpdump >/dev/null || [ -x /usr/sbin/tcpdump ] || [ -x /usr/bin/tcpdump ] || echo tcpdump
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || echo nginx-light
  command -v clang-14 >/dev/null || echo clang-14
  [ -e /usr/include/linux/bpf.h ] || echo linux-libc-dev
  command -v ethtool >/dev/null || [ -x /usr/sbin/ethtool ] || [ -x /sbin/ethtool ] || echo ethtool
  command -v chromium >/dev/null || echo chromium
}

# Installs the Debian packages named (those missing), as root; without root it names them and stops.
ensure_packages() {
  local missing=("$@")
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

# Quiet unless it fails: `./baton.sh router --help` prints baton's help, not a build summary.
build() {
  local log rc=0
  log=$(mktemp)
  dotnet build -c Release Baton.slnx -nologo -v quiet -clp:ErrorsOnly >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || cat "$log" >&2
  rm -f "$log"
  [ "$rc" -eq 0 ] || exit "$rc"
}

# A self-contained single-file `baton` (the .NET runtime inside: the host needs no SDK), for the
# machines that run a router or an agent.
install_baton() {
  local prefix=/usr/local
  while [ $# -gt 0 ]; do
    case "$1" in
      --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
      *) echo "baton.sh install: unknown option '$1' (--prefix DIR)" >&2; exit 2 ;;
    esac
  done
  local rid
  case "$(uname -m)" in
    x86_64) rid=linux-x64 ;;
    aarch64) rid=linux-arm64 ;;
    *) echo "baton.sh install: no .NET runtime for $(uname -m)" >&2; exit 2 ;;
  esac
  local out log rc=0
  out=$(mktemp -d); log=$(mktemp)
  dotnet publish src/Baton.Cli -c Release -r "$rid" --self-contained -p:PublishSingleFile=true \
    -p:DebugType=none -o "$out" -nologo -v quiet >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    install -d "$prefix/bin" && install -m 755 "$out/baton" "$prefix/bin/baton" || rc=$?
  else
    cat "$log" >&2
  fi
  rm -rf "$out" "$log"
  [ "$rc" -eq 0 ] || exit "$rc"
  echo "installed $prefix/bin/baton ($("$prefix/bin/baton" --version))"
  case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: $prefix/bin is not on PATH" >&2 ;; esac
}

# exec: the signals sent to this script (kill, Ctrl-C) reach baton itself, which tears down what it made.
baton() {
  exec dotnet src/Baton.Cli/bin/Release/net10.0/baton.dll "$@"
}

cmd="${1:-help}"
case "$cmd" in
  demo)
    # Without root the demo runs in local mode, which needs none of the packages.
    [ "$(id -u)" -ne 0 ] || ensure_packages $(runtime_packages)
    build; shift; baton demo "$@" ;;
  test)
    ensure_packages $(test_packages)
    build
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
    ensure_packages $(test_packages); shift; exec bench/run.sh "$@" ;;
  install)
    [ "$(id -u)" -ne 0 ] || ensure_packages $(runtime_packages)
    shift; install_baton "$@" ;;
  help|-h|--help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    echo
    build; dotnet src/Baton.Cli/bin/Release/net10.0/baton.dll --help ;;
  *)
    # baton's own commands need what baton loads, and root only for what they do (it says so).
    [ "$(id -u)" -ne 0 ] || ensure_packages $(runtime_packages)
    build; baton "$@" ;;
esac
