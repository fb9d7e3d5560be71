#!/usr/bin/env bash
# docs/cli-reference.md is what tools/cli_reference.sh prints for the built
# sp, spctl, sallyport-ca and sallyport-gateway: it fails when a flag or a
# help text changed and the reference was not regenerated. It also fails when
# the prose documentation (docs/*.md, README.md) names an sp or spctl command
# that does not exist.
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
# Every sp/spctl command the prose documentation names exists: a backticked
# `sp …`/`spctl …`, or a line of a fenced block that starts with one. Each
# word after the binary that names a command group must be one of the
# group's subcommands ("a|b" names each); the first word that is not a
# subcommand ends the command (an argument, a flag) unless the command so far
# has subcommands, when it is an unknown one.
commands="$T/commands"
sed -n 's/^#\{2,\} `\(.*\)`$/\1/p' "$R/docs/cli-reference.md" > "$commands"
has_command() { grep -qxF -- "$1" "$commands"; }
has_children() { grep -q "^$1 " "$commands"; }
unknown=0
check_mention() {  # FILE TEXT
  local file="$1" cmd w alt
  # shellcheck disable=SC2086
  set -- $2
  cmd="$1"
  shift
  for w in "$@"; do
    if [[ "$w" =~ ^[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)+$ ]]; then
      for alt in ${w//|/ }; do
        has_command "$cmd $alt" || { echo "FAIL: $file names \`$cmd $alt\`, which is not a command" >&2; unknown=1; }
      done
      return
    fi
    [[ "$w" =~ ^[a-z][a-z0-9-]*$ ]] || break
    if has_command "$cmd $w"; then
      cmd="$cmd $w"
    elif has_children "$cmd"; then
      echo "FAIL: $file names \`$cmd $w\`, which is not a command" >&2
      unknown=1
      return
    else
      break
    fi
  done
}
mentions=0
for f in "$R"/docs/README.md "$R"/docs/architecture.md "$R"/docs/audit-events.md \
         "$R"/docs/coming-from.md "$R"/docs/operations.md "$R"/docs/roles.md \
         "$R"/docs/threat-model.md "$R/README.md"; do
  name="${f#"$R"/}"
  while IFS= read -r m; do
    check_mention "$name" "$m"
    mentions=$((mentions + 1))
  done < <(
    { grep -o '`\(sp\|spctl\) [^`]*`' "$f" | tr -d '`'
      awk '/^```/ { fenced = !fenced; next } fenced' "$f" |
        sed -n 's/^\(\$ \)\{0,1\}\(\(sp\|spctl\) .*\)$/\2/p'
    } | sed 's/[[:space:]]*#.*$//')
done
[ "$mentions" -gt 20 ] || { echo "FAIL: found only $mentions sp/spctl mentions in the docs" >&2; exit 1; }
[ "$unknown" -eq 0 ] || exit 1
echo PASS
