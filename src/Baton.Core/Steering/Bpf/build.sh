#!/usr/bin/env bash
# Rebuilds steer.bpf.o from steer.bpf.c. The object is committed next to its source and embedded in
# Baton.Core, so building Baton needs no clang; a unit test (SteerObjectTests) rebuilds it with
# these same flags and fails when the two differ. Needs clang-14 and linux-libc-dev.
# -fdebug-compilation-dir=. keeps the checkout's path out of the DWARF/BTF: same bytes everywhere.
set -euo pipefail
cd "$(dirname "$0")"
clang-14 -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -fdebug-compilation-dir=. -c steer.bpf.c -o "${1:-steer.bpf.o}"
