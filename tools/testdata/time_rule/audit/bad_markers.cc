// Opt-outs that do not count.
namespace fixture {

void NoReason(absl::Mutex& mu, bool* done) {
  // time-rule: wall clock intended because
  mu.AwaitWithDeadline(absl::Condition(done), absl::Now());
  // time-rule: fine
  mu.AwaitWithDeadline(absl::Condition(done), absl::Now());
  // time-rule: wall clock intended because it is
  mu.AwaitWithDeadline(absl::Condition(done), absl::Now());
}

void Nothing() {
  // time-rule: wall clock intended because nothing below waits at all
  int x = 0;
  (void)x;
}

void TooFar(absl::Mutex& mu, bool* done) {
  // time-rule: wall clock intended because a blank line ends its reach

  mu.AwaitWithDeadline(absl::Condition(done), absl::Now());
}

}  // namespace fixture
