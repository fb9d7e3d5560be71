#include "gateway/recording_gate.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

using Side = RecordingGate::Side;
using Item = RecordingGate::Item;

// An asynchronous tap whose acknowledgement the test moves by hand.
class ManualTap : public ChannelTap {
 public:
  absl::Status Data(absl::Duration, Direction, uint32_t,
                    absl::Span<const uint8_t>) override {
    ++last_;
    return absl::OkStatus();
  }
  absl::Status Request(absl::Duration, Direction, std::string_view,
                       std::string_view) override {
    ++last_;
    return absl::OkStatus();
  }
  absl::Status WindowChange(absl::Duration, uint32_t, uint32_t) override {
    ++last_;
    return absl::OkStatus();
  }
  void Close(absl::Duration) override {}
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
  (void)tap.Data(absl::ZeroDuration(), Direction::kOutput, 0, B("x"));
  tap.acked_ = 1;
  EXPECT_FALSE(gate.MustWait(Side::kOutput, &tap));
  EXPECT_FALSE(gate.MustWait(Side::kOutput, nullptr));
  EXPECT_TRUE(gate.empty());
}

TEST(RecordingGate, ReleasesInOrderOnlyWhatWasRecorded) {
  RecordingGate gate;
  ManualTap tap;
  (void)tap.Data(absl::ZeroDuration(), Direction::kOutput, 0, B("abc"));
  ASSERT_TRUE(gate.MustWait(Side::kOutput, &tap));
  gate.Hold(Side::kOutput, Item::kData, &tap, 0, "", B("abc"));
  (void)tap.Request(absl::ZeroDuration(), Direction::kOutput, "exit-status",
                    "0");
  // Recorded or not, what comes behind a waiting item waits.
  ASSERT_TRUE(gate.MustWait(Side::kOutput, &tap));
  gate.Hold(Side::kOutput, Item::kRequest, &tap, 0, "exit-status", B("0000"));
  gate.Hold(Side::kOutput, Item::kClose, &tap, 0, "", {});
  EXPECT_EQ(gate.held_bytes(), 7u);
  // One request waits: its type and payload (the host's are capped so).
  EXPECT_EQ(gate.held_requests(Side::kOutput), 1u);
  EXPECT_EQ(gate.held_request_bytes(Side::kOutput), 15u);
  // The other direction is independent.
  EXPECT_FALSE(gate.MustWait(Side::kInput, nullptr));
  EXPECT_EQ(gate.held_requests(Side::kInput), 0u);

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
  EXPECT_EQ(gate.held_requests(Side::kOutput), 0u);
  EXPECT_EQ(gate.held_request_bytes(Side::kOutput), 0u);
  std::optional<Item> third = gate.TakeRecorded(Side::kOutput, &tap);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->kind, Item::kClose);
  EXPECT_TRUE(gate.empty());
  EXPECT_EQ(gate.held_bytes(), 0u);
}

// issue 14 benchmark: held data behind held data of the same stream joins
// it (one item, one packet to the other side), up to kMaxMergedDataBytes;
// the joined item waits for the later ticket. Another stream, or anything
// between, starts a new item.
TEST(RecordingGate, HeldDataOfOneStreamIsMergedUpToTheLimit) {
  RecordingGate gate;
  ManualTap tap;
  auto hold = [&](uint32_t stream, const std::string& s) {
    (void)tap.Data(absl::ZeroDuration(), Direction::kOutput, stream, B(s));
    ASSERT_TRUE(gate.MustWait(Side::kOutput, &tap));
    gate.Hold(Side::kOutput, Item::kData, &tap, stream, "", B(s));
  };
  hold(0, "ab");
  hold(0, "cd");  // joins "ab" (ticket 2)
  hold(1, "ef");  // stderr: new
  hold(0, std::string(RecordingGate::kMaxMergedDataBytes - 1, 'x'));
  hold(0, "yz");  // over the limit: new
  (void)tap.Request(absl::ZeroDuration(), Direction::kOutput, "exit-status",
                    "0");
  gate.Hold(Side::kOutput, Item::kRequest, &tap, 0, "exit-status", B("0000"));
  hold(0, "after");  // behind the request: new
  EXPECT_EQ(gate.held_bytes(), RecordingGate::kMaxMergedDataBytes + 16);

  tap.acked_ = 1;  // "ab" is recorded, "cd" not: the joined item waits
  EXPECT_FALSE(gate.TakeRecorded(Side::kOutput, &tap).has_value());
  tap.acked_ = tap.last_;
  std::vector<std::string> got;
  while (std::optional<Item> item = gate.TakeRecorded(Side::kOutput, &tap)) {
    got.push_back(item->kind == Item::kData
                      ? absl::StrCat(item->stream, ":", item->data.size(), ":",
                                     std::string(item->data.begin(),
                                                 item->data.begin() + 2))
                      : item->type);
  }
  EXPECT_EQ(
      got,
      (std::vector<std::string>{
          "0:4:ab", "1:2:ef",
          absl::StrCat("0:", RecordingGate::kMaxMergedDataBytes - 1, ":xx"),
          "0:2:yz", "exit-status", "0:5:af"}));
  EXPECT_TRUE(gate.empty());
}

// Data held behind an authorization: 1-byte packets of one stream share
// an entry up to kMaxMergedDataBytes (one entry each cost ~64 bytes of
// overhead: up to ~128 MiB for a 2 MiB window); another stream, or a
// piece that would not fit, starts a new one. Order and bytes are kept.
TEST(AppendHeldDataTest, SmallPacketsOfAStreamShareAnEntry) {
  HeldData held;
  const uint8_t x = 'x';
  const size_t max = RecordingGate::kMaxMergedDataBytes;
  for (size_t i = 0; i < max + 1; ++i) AppendHeldData(held, 0, {&x, 1});
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].second.size(), max);
  EXPECT_EQ(held[1].second.size(), 1u);
  AppendHeldData(held, 1, B("err"));
  AppendHeldData(held, 0, B("out"));
  ASSERT_EQ(held.size(), 4u);
  EXPECT_EQ(held[2].first, 1u);
  EXPECT_EQ(std::string(held[2].second.begin(), held[2].second.end()), "err");
  EXPECT_EQ(held[3].first, 0u);
  EXPECT_EQ(std::string(held[3].second.begin(), held[3].second.end()), "out");
  // A full-size packet after a small one does not fit: its own entry.
  const std::vector<uint8_t> big(max, 'y');
  AppendHeldData(held, 0, big);
  EXPECT_EQ(held.size(), 5u);
}

}  // namespace
}  // namespace sallyport::gateway
