#include "gateway/recording_gate.h"

#include <string>

#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

using Side = RecordingGate::Side;
using Item = RecordingGate::Item;

// An asynchronous tap whose acknowledgement the test moves by hand.
class ManualTap : public ChannelTap {
 public:
  absl::Status Data(absl::Time, Direction, uint32_t,
                    absl::Span<const uint8_t>) override {
    ++last_;
    return absl::OkStatus();
  }
  absl::Status Request(absl::Time, Direction, std::string_view,
                       std::string_view) override {
    ++last_;
    return absl::OkStatus();
  }
  absl::Status WindowChange(absl::Time, uint32_t, uint32_t) override {
    ++last_;
    return absl::OkStatus();
  }
  void Close(absl::Time) override {}
  uint64_t LastTicket() const override { return last_; }
  bool Recorded(uint64_t ticket) const override { return ticket <= acked_; }

  uint64_t last_ = 0;
  uint64_t acked_ = 0;
};

absl::Span<const uint8_t> B(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

TEST(RecordingGate, NothingWaitsWhenTheTapRecordedEverything) {
  RecordingGate gate;
  ManualTap tap;
  (void)tap.Data(absl::Now(), Direction::kOutput, 0, B("x"));
  tap.acked_ = 1;
  EXPECT_FALSE(gate.MustWait(Side::kOutput, &tap));
  EXPECT_FALSE(gate.MustWait(Side::kOutput, nullptr));
  EXPECT_TRUE(gate.empty());
}

TEST(RecordingGate, ReleasesInOrderOnlyWhatWasRecorded) {
  RecordingGate gate;
  ManualTap tap;
  (void)tap.Data(absl::Now(), Direction::kOutput, 0, B("abc"));
  ASSERT_TRUE(gate.MustWait(Side::kOutput, &tap));
  gate.Hold(Side::kOutput, Item::kData, &tap, 0, "", B("abc"));
  (void)tap.Request(absl::Now(), Direction::kOutput, "exit-status", "0");
  // Recorded or not, what comes behind a waiting item waits.
  ASSERT_TRUE(gate.MustWait(Side::kOutput, &tap));
  gate.Hold(Side::kOutput, Item::kRequest, &tap, 0, "exit-status", B("0000"));
  gate.Hold(Side::kOutput, Item::kClose, &tap, 0, "", {});
  EXPECT_EQ(gate.held_bytes(), 7u);
  // The other direction is independent.
  EXPECT_FALSE(gate.MustWait(Side::kInput, nullptr));

  EXPECT_FALSE(gate.TakeRecorded(Side::kOutput, &tap).has_value());
  tap.acked_ = 1;
  std::optional<Item> first = gate.TakeRecorded(Side::kOutput, &tap);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, Item::kData);
  EXPECT_EQ(std::string(first->data.begin(), first->data.end()), "abc");
  EXPECT_FALSE(gate.TakeRecorded(Side::kOutput, &tap).has_value());
  tap.acked_ = 2;
  std::optional<Item> second = gate.TakeRecorded(Side::kOutput, &tap);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->kind, Item::kRequest);
  EXPECT_EQ(second->type, "exit-status");
  std::optional<Item> third = gate.TakeRecorded(Side::kOutput, &tap);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->kind, Item::kClose);
  EXPECT_TRUE(gate.empty());
  EXPECT_EQ(gate.held_bytes(), 0u);
}

}  // namespace
}  // namespace sallyport::gateway
