#!/usr/bin/env bash
# Runs the gateway's tests under AddressSanitizer (+ LeakSanitizer), then
# under UndefinedBehaviorSanitizer, and prints a summary:
#  - the unit tests of //gateway/... and //audit/...;
#  - every gateway end-to-end test in //tests/e2e (gateway_e2e_test,
#    gateway_*_e2e_test, ha_failover_e2e_test, spctl_rotate_gateway_e2e_test: the real
#    sallyport-gateway and sallyport-ca binaries, sp, spctl), except those
#    tagged manual and the 1,000-handshake load test (minutes of both cores
#    unsanitized; name it after -- to run it anyway).
# Reports go to files, not stderr: DIR/asan.* and DIR/ubsan.* (DIR is
# $SANITIZE_DIR, default /tmp/sallyport-sanitize). The test harness
# (tests/harness/subprocess.h, CheckSanitizerReports) sends the reports of
# the processes a test starts to DIR/asan.t<test pid>.<pid> and fails that
# test with the report, so a leak at the gateway's exit fails the test that
# ran it. Reports of the test binaries themselves abort them.
#
# Usage: tools/sanitize.sh [asan] [ubsan] [-- BAZEL_TEST_ARGS... [TARGETS]]
#   tools/sanitize.sh                      # both, all targets
#   tools/sanitize.sh asan -- //tests/e2e:gateway_e2e_test
# Exit status 0 only when every test passed and no report file was written.
set -uo pipefail
cd "$(dirname "$0")/.."

dir=${SANITIZE_DIR:-/tmp/sallyport-sanitize}
configs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    asan | ubsan) configs+=("$1") ;;
    *)
      echo "usage: $0 [asan] [ubsan] [-- BAZEL_TEST_ARGS... [TARGETS]]" >&2
      exit 2
      ;;
  esac
  shift
done
[ "${1:-}" = "--" ] && shift
[ ${#configs[@]} -eq 0 ] && configs=(asan ubsan)

extra=("$@")
have_targets=0
for a in "${extra[@]}"; do
  case "$a" in //*) have_targets=1 ;; esac
done
if [ $have_targets -eq 0 ]; then
  mapfile -t targets < <(bazel query --noshow_progress \
    'tests(//gateway/... + //audit/...) + (attr(name, "^(gateway(_.*)?|ha_failover|spctl_rotate_gateway)_e2e_test$", tests(//tests/e2e:all)) except attr(tags, manual, //tests/e2e:all) except //tests/e2e:gateway_load_e2e_test)' \
    2>/dev/null | sort)
  extra+=("${targets[@]}")
fi

# Daemons in some tests run as other users: they must be able to write here.
mkdir -p "$dir"
chmod 1777 "$dir"

summary=()
overall=0
for config in "${configs[@]}"; do
  rm -f "$dir/$config".*
  case "$config" in
    asan)
      env=(--test_env="ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:log_path=$dir/asan")
      ;;
    ubsan)
      env=(--test_env="UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$dir/ubsan")
      ;;
  esac
  log=$(mktemp)
  start=$(date +%s)
  bazel test --config="$config" --keep_going "${env[@]}" "${extra[@]}" 2>&1 |
    tee "$log"
  status=${PIPESTATUS[0]}
  secs=$(($(date +%s) - start))
  passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
  failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|FLAKY|INCOMPLETE|NO STATUS)' "$log")
  grep -E '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|FLAKY|INCOMPLETE|NO STATUS)' "$log" >"$log.failed"
  rm -f "$log"
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1 # the build failed before any test could report
  fi
  mapfile -t reports < <(ls "$dir/$config".* 2>/dev/null)
  line="$config: ${passed} passed, ${failed} failed, ${#reports[@]} report file(s) in $dir, ${secs}s"
  summary+=("$line")
  while read -r f; do summary+=("  $f"); done <"$log.failed"
  rm -f "$log.failed"
  for r in "${reports[@]}"; do
    summary+=("  report: $r ($(grep -m1 -E 'ERROR|runtime error|SUMMARY' "$r" || true))")
  done
  if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ ${#reports[@]} -ne 0 ]; then
    overall=1
  fi
done
echo
printf '%s\n' "${summary[@]}"
exit $overall
