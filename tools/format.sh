#!/usr/bin/env bash
# Formats the project's C++ sources with clang-format (Google style, see
# .clang-format). `tools/format.sh --check` changes nothing and exits 1 if a
# file is not formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=fix
[ "${1:-}" = "--check" ] && mode=check
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^third_party/')
[ ${#files[@]} -eq 0 ] && exit 0
if [ "$mode" = check ]; then
  bad=0
  for f in "${files[@]}"; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
      echo "not formatted: $f"
      bad=1
    fi
  done
  exit $bad
fi
clang-format -i "${files[@]}"
