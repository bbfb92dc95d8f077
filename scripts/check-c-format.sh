#!/bin/sh
# The C formatting check of `npm run lint` (DESIGN.md "C habits": one enforced formatter):
# clang-format with the repository's .clang-format over native/*.c and native/*.h, failing on
# any difference. `sh scripts/check-c-format.sh --fix` rewrites the files instead. Without
# clang-format (scripts/ensure-deps.sh installs it on Debian) it says so and passes.
set -u
cd "$(dirname "$0")/.." || exit 1
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check-c-format: clang-format not found, C formatting not checked (apt-get install clang-format)" >&2
  exit 0
fi
files=""
for f in native/*.c native/*.h; do
  [ -e "$f" ] || continue
  files="$files $f"
done
if [ "${1:-}" = "--fix" ]; then
  # shellcheck disable=SC2086
  exec clang-format -i $files
fi
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files; then
  echo "check-c-format: run \`sh scripts/check-c-format.sh --fix\`" >&2
  exit 1
fi
