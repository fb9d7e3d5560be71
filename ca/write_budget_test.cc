#include "ca/write_budget.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

GatewayWriteBudget::Policy Small() {
  GatewayWriteBudget::Policy p;
  p.rate_bytes_per_second = 100;
  p.burst_bytes = 1000;
  return p;
}

// The one cost formula of RecordGatewayEvents and UploadRecording.
static_assert(GatewayWriteCost(100, 2, kGatewayCallWriteBytes) ==
              4096 + 100 + 2 * 1024);
static_assert(GatewayWriteCost(100, 0) == 100);

TEST(GatewayWriteBudgetTest, TakesUpToTheBurstThenRefillsAtTheRate) {
  GatewayWriteBudget budget(Small());
  const absl::Duration t0 = absl::Seconds(10);
  EXPECT_FALSE(budget.Take("gw1", 600, t0).has_value());
  EXPECT_FALSE(budget.Take("gw1", 400, t0).has_value());
  // Empty: one byte more is refused, and nothing is taken by the refusal.
  EXPECT_TRUE(budget.Take("gw1", 1, t0).has_value());
  // Half a second later 50 bytes came back, not 51.
  EXPECT_TRUE(budget.Take("gw1", 51, t0 + absl::Milliseconds(500)));
  EXPECT_FALSE(
      budget.Take("gw1", 50, t0 + absl::Milliseconds(500)).has_value());
  // Never more than the burst, however long it waited.
  EXPECT_TRUE(budget.Take("gw1", 1001, t0 + absl::Hours(1)).has_value());
  EXPECT_FALSE(budget.Take("gw1", 1000, t0 + absl::Hours(1)).has_value());
}

TEST(GatewayWriteBudgetTest, EachGatewayHasItsOwnBucket) {
  GatewayWriteBudget budget(Small());
  EXPECT_FALSE(budget.Take("gw1", 1000, absl::ZeroDuration()).has_value());
  EXPECT_TRUE(budget.Take("gw1", 1, absl::ZeroDuration()).has_value());
  EXPECT_FALSE(budget.Take("gw2", 1000, absl::ZeroDuration()).has_value());
}

TEST(GatewayWriteBudgetTest, RefusalsAreReportedOncePerIntervalWithTheirCount) {
  GatewayWriteBudget budget(Small());
  const absl::Duration t0 = absl::Seconds(1);
  ASSERT_FALSE(budget.Take("gw1", 1000, t0).has_value());
  std::optional<GatewayWriteBudget::Refusal> r = budget.Take("gw1", 500, t0);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->report);
  EXPECT_EQ(r->refused, 1u);
  for (int i = 0; i < 5; ++i) {
    r = budget.Take("gw1", 900, t0 + absl::Seconds(i));
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->report);
  }
  // gw2's first refusal is its own report.
  ASSERT_FALSE(budget.Take("gw2", 1000, t0).has_value());
  r = budget.Take("gw2", 1, t0);
  ASSERT_TRUE(r.has_value() && r->report);
  // A minute after gw1's report: the next says how many since.
  r = budget.Take("gw1", 1001, t0 + kGatewayWriteRefusalReportInterval);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->report);
  EXPECT_EQ(r->refused, 6u);
}

TEST(GatewayWriteBudgetTest, RemembersAtMostMaxGatewaysForgettingFullOnes) {
  GatewayWriteBudget budget(GatewayWriteBudget::Policy{});
  const size_t max = kMaxGatewayWriteBudgets;
  const absl::Duration t0 = absl::Seconds(1);
  for (size_t i = 0; i < max; ++i) {
    ASSERT_FALSE(budget.Take(absl::StrCat("gw", i), 1, t0).has_value()) << i;
  }
  EXPECT_EQ(budget.size(), max);
  // Every remembered gateway is below its burst: no room for one more,
  // which is refused (and said), while the remembered ones still write.
  std::optional<GatewayWriteBudget::Refusal> r = budget.Take("newcomer", 1, t0);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->report);
  EXPECT_FALSE(budget.Take("gw0", 1, t0).has_value());
  EXPECT_EQ(budget.size(), max);
  // Once they refilled, they are forgotten to make room.
  EXPECT_FALSE(budget.Take("newcomer", 1, t0 + absl::Seconds(1)).has_value());
  EXPECT_LE(budget.size(), max);
  EXPECT_GE(budget.size(), 1u);
}

TEST(GatewayWriteBudgetTest, ARefusedGatewayIsNotForgottenBeforeItsReport) {
  GatewayWriteBudget::Policy p = Small();
  p.max_gateways = 1;
  GatewayWriteBudget budget(p);
  const absl::Duration t0 = absl::Seconds(1);
  ASSERT_FALSE(budget.Take("gw1", 1000, t0).has_value());
  ASSERT_TRUE(budget.Take("gw1", 1, t0).has_value());  // reported
  // Refilled, but its report was less than an interval ago: forgetting it
  // would let its next refusal be reported again at once.
  EXPECT_TRUE(budget.Take("gw2", 1, t0 + absl::Seconds(30)).has_value());
  std::optional<GatewayWriteBudget::Refusal> r =
      budget.Take("gw1", 2000, t0 + absl::Seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->report);
  // Its refusal after the report is still owed: it stays until reported.
  EXPECT_TRUE(budget.Take("gw2", 1, t0 + absl::Minutes(5)).has_value());
  r = budget.Take("gw1", 2000, t0 + absl::Minutes(5));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->report);
  EXPECT_EQ(r->refused, 2u);
  EXPECT_FALSE(budget.Take("gw2", 1, t0 + absl::Minutes(7)).has_value());
  EXPECT_EQ(budget.size(), 1u);
}

}  // namespace
}  // namespace sallyport::ca
