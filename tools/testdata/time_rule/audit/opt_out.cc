// Timed waits on the wall clock, each opted out with a reason.
namespace fixture {

void Intended(absl::Mutex& mu, bool* done) {
  // time-rule: wall clock intended because this fixture wants a
  // deadline read from the wall clock.
  mu.AwaitWithDeadline(absl::Condition(done), absl::Now());
  mu.LockWhenWithTimeout(
      absl::Condition(done),
      absl::Seconds(
          1));  // time-rule: wall clock intended because the fixture says so
  mu.Unlock();
}

}  // namespace fixture
