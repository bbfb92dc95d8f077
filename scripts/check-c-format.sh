#!/bin/sh
# The C formatting check of `npm run lint` (DESIGN.md "C habits": one enforced formatter):
# clang-format with the repository's .clang-format over native/*.c and native/*.h, failing on
# any difference. `sh scripts/check-c-format.sh --fix` rewrites the files instead. Without
# clang-format (scripts/ensure-deps.sh installs it on Debian) it says so and passes.
# native/aead.c is left out until the multi-core crypto work that rewrites it lands (the
# integrator formats it then and removes it from SKIP).
set -u
cd "$(dirname "$0")/.." || exit 1
SKIP="native/aead.c"
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check-c-format: clang-format not found, C formatting not checked (apt-get install clang-format)" >&2
  exit 0
fi
files=""
for f in native/*.c native/*.h; do
  [ -e "$f" ] || continue
  case " $SKIP " in *" $f "*) continue ;; esac
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
