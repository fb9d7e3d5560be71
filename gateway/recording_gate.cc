#include "gateway/recording_gate.h"

#include <algorithm>
#include <utility>

namespace sallyport::gateway {

bool RecordingGate::MustWait(Side side, const ChannelTap* tap) const {
  return !queue(side).empty() ||
         (tap != nullptr && !tap->Recorded(tap->LastTicket()));
}

void RecordingGate::Hold(Side side, Item::Kind kind, const ChannelTap* tap,
                         uint32_t stream, std::string type,
                         absl::Span<const uint8_t> data) {
  const uint64_t ticket = tap != nullptr ? tap->LastTicket() : 0;
  std::deque<Item>& q = queue(side);
  // Data behind data of the same stream goes out with it: one item (and
  // one packet to the other side) per recorder pass, not one per packet.
  if (kind == Item::kData && !q.empty() && q.back().kind == Item::kData &&
      q.back().stream == stream &&
      q.back().data.size() + data.size() <= kMaxMergedDataBytes) {
    Item& last = q.back();
    last.ticket = std::max(last.ticket, ticket);
    last.data.insert(last.data.end(), data.begin(), data.end());
    held_bytes_ += data.size();
    return;
  }
  Item item;
  item.kind = kind;
  item.ticket = ticket;
  item.stream = stream;
  item.type = std::move(type);
  item.data.assign(data.begin(), data.end());
  held_bytes_ += item.data.size();
  if (kind == Item::kRequest) {
    ++requests(side).count;
    requests(side).bytes += item.type.size() + item.data.size();
  }
  q.push_back(std::move(item));
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
  if (item.kind == Item::kRequest) {
    --requests(side).count;
    requests(side).bytes -= item.type.size() + item.data.size();
  }
  return item;
}

void AppendHeldData(HeldData& held, uint32_t stream,
                    absl::Span<const uint8_t> data) {
  if (!held.empty() && held.back().first == stream &&
      held.back().second.size() + data.size() <=
          RecordingGate::kMaxMergedDataBytes) {
    std::vector<uint8_t>& last = held.back().second;
    last.insert(last.end(), data.begin(), data.end());
    return;
  }
  held.emplace_back(stream, std::vector<uint8_t>(data.begin(), data.end()));
}

}  // namespace sallyport::gateway
