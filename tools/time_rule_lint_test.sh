#!/usr/bin/env bash
# The rule for time (docs/architecture.md, Time): no timed wait in the
# product sources waits on the wall clock. tools/time_rule_lint.py is first
# checked on the fixtures in tools/testdata/time_rule (so it cannot pass
# everything), then run over the source tree.
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
FX="$R/tools/testdata/time_rule"
T="$(mktemp -d "${TEST_TMPDIR:-/tmp}/time_rule.XXXXXX")"
fail() { echo "FAIL: $*" >&2; exit 1; }
lint() { /usr/bin/python3 "$R/tools/time_rule_lint.py" "$@"; }

# A file with timed waits on absl::Mutex fails, naming FILE:LINE and the
# rule; one whose waits are opted out with a reason passes.
if lint --root "$FX" gateway/waits.cc > "$T/one" 2>&1; then
  fail "gateway/waits.cc (timed waits on absl::Mutex) passed"
fi
grep -q '^gateway/waits.cc:21: \[absl-timed-wait\] LockWhenWithTimeout' \
  "$T/one" || { cat "$T/one" >&2; fail "gateway/waits.cc:21 not reported"; }
lint --root "$FX" audit/opt_out.cc \
  || fail "audit/opt_out.cc (waits opted out with a reason) was reported"

# The fixture tree: exactly the findings in expected.txt, none from the
# files it skips (tests, fuzz targets, testdata, base/steady_mutex.*).
rc=0
lint --root "$FX" > "$T/tree" 2> "$T/err" || rc=$?
[ "$rc" -eq 1 ] || { cat "$T/err" >&2; fail "fixture tree: exit $rc, not 1"; }
sed 's/\] .*/]/' "$T/tree" | diff -u "$FX/expected.txt" - \
  || fail "the fixture tree's findings are not tools/testdata/time_rule/expected.txt"

# The source tree. Its files are not inputs of this test (a new package is
# scanned with no BUILD change), so the test is never cached and reads the
# tree the lint's runfile links to.
src="$(dirname "$(dirname "$(readlink -f "$R/tools/time_rule_lint.py")")")"
[ -f "$src/WORKSPACE" ] && [ -f "$src/base/steady_mutex.h" ] \
  || fail "no source tree behind $R/tools/time_rule_lint.py ($src)"
lint --root "$src" 2> "$T/err" || { cat "$T/err" >&2; fail "findings above"; }
cat "$T/err"
# It did read the tree: its files, and the SteadyMutex waits it accepts.
read -r files waits < <(sed -n \
  's/^time-rule: \([0-9]*\) files, \([0-9]*\) timed waits.*/\1 \2/p' "$T/err")
[ "${files:-0}" -ge 200 ] || fail "only ${files:-0} product sources read"
[ "${waits:-0}" -ge 10 ] \
  || fail "only ${waits:-0} timed waits on base::SteadyMutex recognised"
echo PASS
