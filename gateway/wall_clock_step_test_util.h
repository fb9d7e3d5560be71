// The gateway's timed waits under a wall-clock step, in tests: the test
// runs again in a child process whose wall clock a testing::FakeWallClock
// (tests/harness/fake_wall_clock.h) steps an hour ahead. To a wait whose
// end is computed from the wall clock (absl::Mutex's), that is the same as
// the real clock stepping an hour back: it lasts an hour longer. The
// gateway's waits (base::SteadyMutex) must end on time.
#ifndef SALLYPORT_GATEWAY_WALL_CLOCK_STEP_TEST_UTIL_H_
#define SALLYPORT_GATEWAY_WALL_CLOCK_STEP_TEST_UTIL_H_

#include <optional>

#include "absl/time/time.h"
#include "tests/harness/fake_wall_clock.h"

namespace sallyport::gateway {

// In the test's process: runs the current test again in a child under a
// FakeWallClock, expects it to pass within `timeout` (a wait stretched by
// the step makes it fail, or time out, instead of hanging the test), and
// returns nullopt: the test body then returns. In the child: its clock.
std::optional<testing::FakeWallClock> InChildUnderAFakeWallClock(
    absl::Duration timeout = absl::Seconds(60));

// Steps `clock` an hour ahead and returns once absl::Now() reads the new
// time (a test failure when it does not within 10 s).
void StepAnHourAhead(testing::FakeWallClock& clock);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_WALL_CLOCK_STEP_TEST_UTIL_H_
