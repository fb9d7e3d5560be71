#!/bin/sh
# Proves mlkem768_constant_time_test can fail: the same check binary with a
# planted leak after Decaps (a branch on the shared secret, a table index by
# it) must make valgrind report it and exit 9; the masked form of the same
# step must stay clean. If the secret's undefinedness did not reach Decaps'
# output, or memcheck were not watching, the planted runs would pass.
set -u
check=$1
status=0

expect_flagged() {
  plant=$1 message=$2
  out=$(valgrind -q --error-exitcode=9 "$check" "--plant=$plant" 2>&1)
  rc=$?
  if [ "$rc" -ne 9 ]; then
    echo "FAIL: --plant=$plant: valgrind exit $rc, want 9"
    echo "$out"
    status=1
  elif ! printf '%s\n' "$out" | grep -q "$message"; then
    echo "FAIL: --plant=$plant: no \"$message\" in:"
    echo "$out"
    status=1
  else
    echo "ok: --plant=$plant reported: $message"
  fi
}

expect_flagged branch "Conditional jump or move depends on uninitialised"
expect_flagged index "Use of uninitialised value of size"

if out=$(valgrind -q --error-exitcode=9 "$check" --plant=masked 2>&1); then
  echo "ok: --plant=masked clean"
else
  echo "FAIL: --plant=masked was reported:"
  echo "$out"
  status=1
fi

# Outside valgrind every variant runs to the end (exit 0): the 9 above is
# memcheck's verdict, not the program's.
for plant in branch index masked; do
  if ! "$check" "--plant=$plant" >/dev/null; then
    echo "FAIL: --plant=$plant fails without valgrind"
    status=1
  fi
done
exit $status
