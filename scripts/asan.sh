#!/usr/bin/env bash
# The native addon under AddressSanitizer and UBSan (issue 11, "Wild writes in the native code"):
# builds native/*.c once with -fsanitize=address,undefined in a scratch copy (build/Release of the
# checkout stays the ordinary build), then runs the test/io suite, the bounded native fuzz and the
# data path's own tests (the rootless fast-path fixture, the thread order, 128-segment GSO bursts
# with offloads on and off; daemons the tests spawn inherit the preload) with that build
# (WGTS_NATIVE_ADDON) and the sanitizer runtimes preloaded into node. Fails on a failed test and
# on any sanitizer report, also one from a child process (every report goes to a file).
#
#   bash scripts/asan.sh [FILTER...]     default filters: dist/test/io/ native-fuzz fast-path-rules
#                                         fast-path-corpus thread-order daemon/gso-burst
# Needs gcc with libasan and libubsan (Debian's gcc has them), and `npm run build` done.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wgts-asan.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

asan=$(gcc -print-file-name=libasan.so.8)
ubsan=$(gcc -print-file-name=libubsan.so.1)
for lib in "$asan" "$ubsan"; do
  if [ ! -e "$lib" ]; then
    echo "asan: $lib not found (gcc without its sanitizer runtimes?)" >&2
    exit 1
  fi
done

echo "asan: building the addon with -fsanitize=address,undefined in $scratch" >&2
cp -r binding.gyp native "$scratch"/
# `npm run` puts npm's own node-gyp on PATH, as `npm run build:native` does in the checkout.
printf '{"name":"wgts-asan","private":true,"scripts":{"build":"node-gyp rebuild"}}\n' >"$scratch/package.json"
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
(cd "$scratch" && CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" npm run --silent build >build.log 2>&1) || {
  tail -40 "$scratch/build.log" >&2
  exit 1
}
addon="$scratch/build/Release/wgts_native.node"

reports="$scratch/reports"
mkdir -p "$reports"
if [ "$#" -eq 0 ]; then
  set -- dist/test/io/ native-fuzz fast-path-rules fast-path-corpus thread-order daemon/gso-burst
fi
echo "asan: running $* under the sanitizers" >&2
status=0
# detect_leaks=0: node itself keeps memory to exit; the addon's leaks are not what this hunts.
WGTS_NATIVE_ADDON="$addon" \
  LD_PRELOAD="$asan $ubsan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$reports/asan" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan" \
  WGTS_TEST_CONCURRENCY=1 \
  node scripts/run-tests.mjs "$@" || status=$?

if compgen -G "$reports/*" >/dev/null; then
  echo "asan: sanitizer reports:" >&2
  for f in "$reports"/*; do
    echo "---- $f" >&2
    head -60 "$f" >&2
  done
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "asan: tests failed (exit $status)" >&2
  exit "$status"
fi
echo "asan: no sanitizer report" >&2
