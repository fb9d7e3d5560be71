#include "gateway/recording_gate.h"

#include <utility>

namespace sallyport::gateway {

bool RecordingGate::MustWait(Side side, const ChannelTap* tap) const {
  return !queue(side).empty() ||
         (tap != nullptr && !tap->Recorded(tap->LastTicket()));
}

void RecordingGate::Hold(Side side, Item::Kind kind, const ChannelTap* tap,
                         uint32_t stream, std::string type,
                         absl::Span<const uint8_t> data) {
  Item item;
  item.kind = kind;
  item.ticket = tap != nullptr ? tap->LastTicket() : 0;
  item.stream = stream;
  item.type = std::move(type);
  item.data.assign(data.begin(), data.end());
  held_bytes_ += item.data.size();
  queue(side).push_back(std::move(item));
}

std::optional<RecordingGate::Item> RecordingGate::TakeRecorded(
    Side side, const ChannelTap* tap) {
  std::deque<Item>& q = queue(side);
  if (q.empty() || (tap != nullptr && !tap->Recorded(q.front().ticket))) {
    return std::nullopt;
  }
  Item item = std::move(q.front());
  q.pop_front();
  held_bytes_ -= item.data.size();
  return item;
}

}  // namespace sallyport::gateway
