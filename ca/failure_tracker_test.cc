#include "ca/failure_tracker.h"

#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(FailureTrackerTest, LocksAfterMaxFailuresForTheLockoutTime) {
  FailureTracker t({.max_failures = 3, .lockout = absl::Minutes(15)});
  EXPECT_FALSE(t.RecordFailure("a", kT0));
  EXPECT_FALSE(t.RecordFailure("a", kT0));
  EXPECT_FALSE(t.LockedUntil("a", kT0).has_value());
  EXPECT_TRUE(t.RecordFailure("a", kT0));
  EXPECT_EQ(t.LockedUntil("a", kT0), kT0 + absl::Minutes(15));
  // Failures while locked neither count nor extend the lock.
  EXPECT_FALSE(t.RecordFailure("a", kT0 + absl::Minutes(5)));
  EXPECT_EQ(t.LockedUntil("a", kT0 + absl::Minutes(5)),
            kT0 + absl::Minutes(15));
  EXPECT_FALSE(t.LockedUntil("a", kT0 + absl::Minutes(15)).has_value());
  EXPECT_FALSE(t.LockedUntil("b", kT0).has_value());
}

TEST(FailureTrackerTest, OldFailuresExpireAndResetForgets) {
  FailureTracker t({.max_failures = 2, .lockout = absl::Minutes(15)});
  EXPECT_FALSE(t.RecordFailure("a", kT0));
  EXPECT_FALSE(t.RecordFailure("a", kT0 + absl::Minutes(16)));
  EXPECT_TRUE(t.RecordFailure("a", kT0 + absl::Minutes(17)));
  t.Reset("a");
  EXPECT_FALSE(t.LockedUntil("a", kT0 + absl::Minutes(17)).has_value());
}

TEST(FailureTrackerTest, MemoryIsBounded) {
  FailureTracker t(
      {.max_failures = 100, .lockout = absl::Minutes(15), .max_entries = 50});
  for (int i = 0; i < 1000; ++i) {
    t.RecordFailure("name" + std::to_string(i), kT0 + absl::Seconds(i));
    EXPECT_LE(t.size(), 50u);
  }
  // A locked key that is still locked survives the eviction of stale ones.
  FailureTracker u(
      {.max_failures = 1, .lockout = absl::Minutes(15), .max_entries = 10});
  u.RecordFailure("locked", kT0);
  for (int i = 0; i < 9; ++i) {
    u.RecordFailure("x" + std::to_string(i), kT0 - absl::Hours(1));
  }
  u.RecordFailure("new", kT0 + absl::Seconds(1));
  EXPECT_TRUE(u.LockedUntil("locked", kT0 + absl::Seconds(1)).has_value());
}

}  // namespace
}  // namespace sallyport::ca
