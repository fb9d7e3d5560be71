// Record before forward (issue 14), one bridged channel's state: what waits
// for the recorder's acknowledgement, per direction and in order. An item
// goes to the other side once the channel's tap Recorded(its ticket); items
// behind a waiting one wait too. Data is not consumed while it waits, so
// the channel window bounds each direction's queue (held_bytes()).
//
// The gate only keeps the order and the tickets; the bridge
// (gateway/channel_recording.cc) sends what TakeRecorded() hands back.
#ifndef SALLYPORT_GATEWAY_RECORDING_GATE_H_
#define SALLYPORT_GATEWAY_RECORDING_GATE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "gateway/recorder.h"

namespace sallyport::gateway {

class RecordingGate {
 public:
  // Held data of one stream is merged into one item up to this many bytes
  // (one SSH packet of the usual 32 KiB maximum).
  static constexpr size_t kMaxMergedDataBytes = size_t{32} << 10;

  enum class Side { kInput, kOutput };  // user → host, host → user
  struct Item {
    enum Kind { kData, kEof, kRequest, kClose } kind = kData;
    uint64_t ticket = 0;
    uint32_t stream = 0;
    std::string type;           // kRequest
    std::vector<uint8_t> data;  // kData bytes, kRequest payload
  };

  // Whether the next thing of `side` must wait: something of that side
  // waits already, or `tap` (may be null: nothing to wait for) has not
  // recorded its last ticket.
  bool MustWait(Side side, const ChannelTap* tap) const;
  // Queues the next thing of `side` behind the tap's last ticket; data
  // right behind held data of the same stream joins it (the item then
  // waits for the later ticket).
  void Hold(Side side, Item::Kind kind, const ChannelTap* tap, uint32_t stream,
            std::string type, absl::Span<const uint8_t> data);
  // The oldest item of `side` once `tap` recorded it (removed), else none.
  std::optional<Item> TakeRecorded(Side side, const ChannelTap* tap);

  bool empty() const { return input_.empty() && output_.empty(); }
  // Bytes of data and request payloads waiting (both directions).
  size_t held_bytes() const { return held_bytes_; }
  // Requests of `side` waiting, and their bytes (type and payload).
  size_t held_requests(Side side) const { return requests(side).count; }
  size_t held_request_bytes(Side side) const { return requests(side).bytes; }

 private:
  std::deque<Item>& queue(Side side) {
    return side == Side::kInput ? input_ : output_;
  }
  const std::deque<Item>& queue(Side side) const {
    return side == Side::kInput ? input_ : output_;
  }

  struct Requests {
    size_t count = 0;
    size_t bytes = 0;
  };
  Requests& requests(Side side) {
    return side == Side::kInput ? input_requests_ : output_requests_;
  }
  const Requests& requests(Side side) const {
    return side == Side::kInput ? input_requests_ : output_requests_;
  }

  std::deque<Item> input_, output_;
  size_t held_bytes_ = 0;
  Requests input_requests_, output_requests_;
};

// User data held before it reaches the gate (behind a request waiting for
// an authorization or for the recorder), in arrival order: (stream, bytes).
using HeldData = std::deque<std::pair<uint32_t, std::vector<uint8_t>>>;

// Appends `data` of `stream` to `held`: to its last piece when that is of
// the same stream and both fit RecordingGate::kMaxMergedDataBytes (as
// RecordingGate::Hold merges), so that many small packets do not cost an
// entry and an allocation each.
void AppendHeldData(HeldData& held, uint32_t stream,
                    absl::Span<const uint8_t> data);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_RECORDING_GATE_H_
