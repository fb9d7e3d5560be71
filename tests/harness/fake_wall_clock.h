// Stepping a process's wall clock in tests, with libfaketime (Debian's
// `faketime` package, installed by deploy/bootstrap.sh): the real clock of
// a shared machine must not be touched, but what a wall-clock step does to
// a program can be shown by moving only the time it reads.
//
// The program runs with libfaketime preloaded. It reads CLOCK_REALTIME
// (clock_gettime, gettimeofday, time) as the real time plus an offset kept
// in a file, re-read at most once a second; CLOCK_MONOTONIC is left alone
// (FAKETIME_DONT_FAKE_MONOTONIC). The kernel keeps the real time, so after
// Step(+1h) a program that sleeps until an absolute CLOCK_REALTIME deadline
// computed from the time it reads (absl::Mutex's timed waits) sleeps an hour
// longer: the same as when the real wall clock steps back by an hour during
// such a wait.
#ifndef SALLYPORT_TESTS_HARNESS_FAKE_WALL_CLOCK_H_
#define SALLYPORT_TESTS_HARNESS_FAKE_WALL_CLOCK_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::testing {

// Debian's libfaketime (the single-threaded and multi-threaded builds are
// the same library since 0.9.8).
inline constexpr char kLibFaketime[] =
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

// How long after Step() every process under the clock reads the new time
// (libfaketime's cache of the offset file, FAKETIME_CACHE_DURATION).
inline constexpr absl::Duration kFakeWallClockLag = absl::Seconds(2);

class FakeWallClock {
 public:
  // The offset file lives in `dir`; the offset starts at zero.
  static absl::StatusOr<FakeWallClock> Create(const std::string& dir);

  // The environment of a process that reads this clock (LD_PRELOAD and
  // libfaketime's settings).
  std::map<std::string, std::string> Env() const;

  // Moves the clock to the real time plus `offset` (not cumulative).
  // Processes see it within kFakeWallClockLag.
  absl::Status Step(absl::Duration offset);

  // For a test that must run in a process of its own under the clock:
  // called from the test body, it runs this test binary again with only
  // the current test selected and Env() set (InChild() is then true), and
  // returns the child's result. The child inherits stdout and stderr, so
  // its failures show in the test's log.
  static absl::StatusOr<int> RunCurrentTestInChild(const FakeWallClock& clock,
                                                   absl::Duration timeout);
  // Whether this process is such a child; FromChild() gives it its clock.
  static bool InChild();
  static absl::StatusOr<FakeWallClock> FromChild();

 private:
  explicit FakeWallClock(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_FAKE_WALL_CLOCK_H_
