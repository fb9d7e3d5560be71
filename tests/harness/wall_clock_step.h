// Tests of timed waits under a wall-clock step: the current test runs
// again in a child process under a FakeWallClock, which the child moves.
//
//   TEST(Foo, EndsOnTimeAfterAStep) {
//     if (!testing::InChildUnderFakeWallClock()) return;
//     ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(absl::Hours(1)));
//     ... a wait that must end on time ...
//   }
#ifndef SALLYPORT_TESTS_HARNESS_WALL_CLOCK_STEP_H_
#define SALLYPORT_TESTS_HARNESS_WALL_CLOCK_STEP_H_

#include <chrono>
#include <functional>

#include "absl/time/time.h"

namespace sallyport::testing {

// In the test's own process: runs the current test again in a child under
// a new FakeWallClock, killed after `timeout` (so a stretched wait fails
// the test rather than holding it), expects it to exit 0 and returns
// false: the test returns. In that child: returns true, the test goes on.
bool InChildUnderFakeWallClock(absl::Duration timeout = absl::Seconds(60));

// How long SetWallClockInChild waits once this process reads the new
// time: longer than any wait (an interval, a timeout) the tests give the
// code under test, so that the waits it computed before the step have
// ended and what it waits for from now on was computed after the step.
inline constexpr absl::Duration kWallClockStepSettle = absl::Milliseconds(500);

// In such a child: sets its wall clock to the real time + `offset` (not
// cumulative: going from +1 h to 0 steps it back an hour), waits until
// this process reads it (within kFakeWallClockLag, and up to 10 s more, as
// a busy process's absl::Now() extrapolates from an earlier reading of the
// clock), then for kWallClockStepSettle. A fatal failure when it does not
// move.
//
// After a step forward, a wait whose deadline is taken from the wall clock
// lasts longer by the step (the kernel keeps the real time), as after a
// real step back; a wall-clock deadline taken before a step back does too.
void SetWallClockInChild(absl::Duration offset);

// Polls `done` every 5 ms until it holds or `timeout` of the steady clock
// passed (a wait on the wall clock would be moved by the steps); returns
// whether it holds.
bool WaitSteadily(const std::function<bool()>& done, absl::Duration timeout);

// Seconds of the steady clock since `t0`.
double SecondsSince(std::chrono::steady_clock::time_point t0);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_WALL_CLOCK_STEP_H_
