#!/usr/bin/env bash
# docs/cli-reference.md is what tools/cli_reference.sh prints for the built
# sp, spctl, sallyport-ca and sallyport-gateway: it fails when a flag or a
# help text changed and the reference was not regenerated.
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
T="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cliref.XXXXXX")"
for b in ca/sallyport-ca gateway/sallyport-gateway cli/sp cli/spctl; do
  ln -s "$(readlink -f "$R/$b")" "$T/$(basename "$b")"
done
"$R/tools/cli_reference.sh" "$T" > "$T/expected.md"
# Sanity: every binary and a nested subcommand made it in.
for s in '## `sp`' '## `spctl`' '## `sallyport-ca`' '## `sallyport-gateway`' \
         '### `spctl users add`' '### `sallyport-gateway serve`'; do
  grep -qxF -- "$s" "$T/expected.md" || { echo "FAIL: the generator lost '$s'" >&2; exit 1; }
done
if ! diff -u "$R/docs/cli-reference.md" "$T/expected.md"; then
  echo "FAIL: docs/cli-reference.md is stale; run tools/cli_reference.sh --update" >&2
  exit 1
fi
echo PASS
