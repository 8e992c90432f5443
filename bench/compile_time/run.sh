#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Compile time of user programs with fusegrad against the same programs written by hand
# with Eigen: wall time and peak memory of the compiler, median of REPEAT compilations
# (default 3), one at a time, and the ratios. Usage:
#   run.sh <c++ compiler> <compile flags...>
# The bench target run_compile_time_bench passes the flags a user of fusegrad::fusegrad
# gets (C++20, include directories, definitions) and -O2.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cxx="$1"
shift
repeat="${REPEAT:-3}"
timer=/usr/bin/time
if [ ! -x "$timer" ]; then
  echo "run.sh: GNU time (/usr/bin/time, Debian package 'time') is needed for peak memory" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# measure <source>: prints "<median seconds> <median peak MB>"
measure() {
  local source="$1" i
  shift
  : > "$work/samples"
  for ((i = 0; i < repeat; ++i)); do
    if ! "$timer" -f '%e %M' -o "$work/time" "$cxx" "$@" -c "$here/$source" -o "$work/out.o" 2> "$work/errors"; then
      echo "run.sh: $source does not compile:" >&2
      cat "$work/errors" >&2
      exit 1
    fi
    tail -n 1 "$work/time" >> "$work/samples"
  done
  local seconds memory
  seconds=$(cut -d' ' -f1 "$work/samples" | sort -g | sed -n "$(((repeat + 1) / 2))p")
  memory=$(cut -d' ' -f2 "$work/samples" | sort -g | sed -n "$(((repeat + 1) / 2))p")
  echo "$seconds $((memory / 1024))"
}

flags=("$@")
row() {
  local label="$1" mine="$2" theirs="$3"
  read -r ms mm <<< "$(measure "$mine" "${flags[@]}")"
  if [ -n "$theirs" ]; then
    read -r ts tm <<< "$(measure "$theirs" "${flags[@]}")"
    printf '| %-46s | %6.1f s | %5d MB | %6.1f s | %5d MB | %5.2f | %5.2f |\n' "$label" "$ms" "$mm" "$ts" "$tm" \
      "$(echo "$ms / $ts" | bc -l)" "$(echo "$mm / $tm" | bc -l)"
  else
    printf '| %-46s | %6.1f s | %5d MB | %8s | %8s | %5s | %5s |\n' "$label" "$ms" "$mm" "" "" "" ""
  fi
}

echo "compiler: $("$cxx" --version | head -n 1)"
echo "flags: ${flags[*]}"
echo "median of $repeat compilations each, one at a time"
echo
printf '| %-46s | %8s | %8s | %8s | %8s | %5s | %5s |\n' "translation unit" "fusegrad" "memory" "by hand" "memory" \
  "time" "mem"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "----------" "----------" "----------" \
  "----------" "-------" "-------"
row "MLP 784-256-10 training step (hand: Eigen)" mlp_step_fusegrad.cpp mlp_step_hand.cpp
row "20 elementwise statements (hand: Eigen values)" elementwise20_fusegrad.cpp elementwise20_eigen.cpp
row "20 elementwise (hand: values and gradients)" elementwise20_fusegrad.cpp elementwise20_hand.cpp
row "#include <fusegrad/fusegrad.hpp> alone" include_only.cpp ""
