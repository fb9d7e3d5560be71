#include "ca/refusal_reports.h"

#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

constexpr absl::Duration kInterval = absl::Minutes(1);

TEST(RefusalReportsTest, AKeysRefusalsAreReportedOncePerIntervalCounted) {
  RefusalReports reports(kInterval);
  const absl::Duration t0 = absl::Hours(5);
  CountedRefusal first = reports.Refuse("gw1", t0);
  EXPECT_TRUE(first.report);
  EXPECT_EQ(first.refused, 1u);
  EXPECT_FALSE(reports.Refuse("gw1", t0 + absl::Seconds(1)).report);
  EXPECT_FALSE(
      reports.Refuse("gw1", t0 + kInterval - absl::Nanoseconds(1)).report);
  // Another key has its own count.
  EXPECT_TRUE(reports.Refuse("gw2", t0 + absl::Seconds(2)).report);
  CountedRefusal later = reports.Refuse("gw1", t0 + kInterval);
  EXPECT_TRUE(later.report);
  EXPECT_EQ(later.refused, 3u);  // the two unreported, and this one
  EXPECT_EQ(reports.Refuse("gw1", t0 + 2 * kInterval).refused, 1u);
}

// At max_keys keys, a new key takes the place of a settled one (nothing
// unreported, its last report an interval ago); while none is settled,
// new keys are counted together.
TEST(RefusalReportsTest, AtMostMaxKeysAreRemembered) {
  RefusalReports reports(kInterval, /*max_keys=*/2);
  const absl::Duration t0 = absl::Hours(5);
  EXPECT_TRUE(reports.Refuse("gw1", t0).report);
  EXPECT_TRUE(reports.Refuse("gw2", t0).report);
  EXPECT_FALSE(reports.Refuse("gw2", t0 + absl::Seconds(1)).report);
  // Full, none settled: gw3 and gw4 share one count.
  EXPECT_TRUE(reports.Refuse("gw3", t0 + absl::Seconds(2)).report);
  CountedRefusal shared = reports.Refuse("gw4", t0 + absl::Seconds(3));
  EXPECT_FALSE(shared.report);
  EXPECT_EQ(shared.refused, 1u);
  // gw1 settles an interval after its report (gw2 owes a count): gw5 gets
  // its place and its own report.
  CountedRefusal own = reports.Refuse("gw5", t0 + kInterval);
  EXPECT_TRUE(own.report);
  EXPECT_EQ(own.refused, 1u);
  EXPECT_FALSE(reports.Refuse("gw5", t0 + kInterval).report);
  // gw2 kept its place and its unreported count.
  CountedRefusal gw2 = reports.Refuse("gw2", t0 + kInterval);
  EXPECT_TRUE(gw2.report);
  EXPECT_EQ(gw2.refused, 2u);
}

}  // namespace
}  // namespace sallyport::ca
