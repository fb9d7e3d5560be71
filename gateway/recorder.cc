#include "gateway/recorder.h"

#include <utility>

namespace sallyport::gateway {
namespace {

class NullTap : public ChannelTap {
 public:
  absl::Status Data(absl::Duration, Direction, uint32_t,
                    absl::Span<const uint8_t>) override {
    return absl::OkStatus();
  }
  absl::Status Request(absl::Duration, Direction, std::string_view,
                       std::string_view) override {
    return absl::OkStatus();
  }
  absl::Status WindowChange(absl::Duration, uint32_t, uint32_t) override {
    return absl::OkStatus();
  }
  void Close(absl::Duration) override {}
};

}  // namespace

std::unique_ptr<ChannelTap> MakeNullTap() {
  return std::make_unique<NullTap>();
}

absl::StatusOr<std::unique_ptr<ChannelTap>> NullRecorder::Attach(
    const ChannelInfo&) {
  return MakeNullTap();
}

class InMemoryRecorder::Tap : public ChannelTap {
 public:
  Tap(InMemoryRecorder& r, size_t index) : r_(r), index_(index) {}
  absl::Status Data(absl::Duration at, Direction d, uint32_t stream,
                    absl::Span<const uint8_t> bytes) override {
    Event e;
    e.at = at;
    e.kind = "data";
    e.direction = d;
    e.stream = stream;
    e.bytes.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return r_.Add(index_, std::move(e));
  }
  absl::Status Request(absl::Duration at, Direction d, std::string_view type,
                       std::string_view summary) override {
    Event e;
    e.at = at;
    e.kind = "request";
    e.direction = d;
    e.bytes = std::string(type);
    e.summary = std::string(summary);
    return r_.Add(index_, std::move(e));
  }
  absl::Status WindowChange(absl::Duration at, uint32_t columns,
                            uint32_t rows) override {
    Event e;
    e.at = at;
    e.kind = "window";
    e.columns = columns;
    e.rows = rows;
    return r_.Add(index_, std::move(e));
  }
  void Close(absl::Duration at) override {
    Event e;
    e.at = at;
    e.kind = "close";
    absl::MutexLock lock(&r_.mu_);
    r_.channels_[index_].closed = true;
    e.channel_id = r_.channels_[index_].info.channel_id;
    r_.events_.push_back(std::move(e));
    r_.event_channel_.push_back(index_);
  }

 private:
  InMemoryRecorder& r_;
  size_t index_;
};

absl::StatusOr<std::unique_ptr<ChannelTap>> InMemoryRecorder::Attach(
    const ChannelInfo& info) {
  absl::MutexLock lock(&mu_);
  if (failing_) return absl::UnavailableError("the recorder is failing");
  channels_.push_back(Channel{info, false});
  return std::make_unique<Tap>(*this, channels_.size() - 1);
}

absl::Status InMemoryRecorder::Add(size_t index, Event event) {
  absl::MutexLock lock(&mu_);
  if (failing_) return absl::UnavailableError("the recorder is failing");
  if (event.kind == "data") {
    if (event.bytes.size() > max_bytes_ - bytes_) {
      return absl::ResourceExhaustedError("the in-memory recording is full");
    }
    bytes_ += event.bytes.size();
  }
  event.channel_id = channels_[index].info.channel_id;
  events_.push_back(std::move(event));
  event_channel_.push_back(index);
  return absl::OkStatus();
}

void InMemoryRecorder::FailAll() {
  absl::MutexLock lock(&mu_);
  failing_ = true;
}

std::vector<InMemoryRecorder::Channel> InMemoryRecorder::channels() const {
  absl::MutexLock lock(&mu_);
  return channels_;
}

std::vector<InMemoryRecorder::Event> InMemoryRecorder::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

std::string InMemoryRecorder::DataFor(std::string_view host,
                                      Direction direction,
                                      uint32_t stream) const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (size_t i = 0; i < events_.size(); ++i) {
    const Event& e = events_[i];
    if (e.kind == "data" && e.direction == direction && e.stream == stream &&
        channels_[event_channel_[i]].info.host == host) {
      out += e.bytes;
    }
  }
  return out;
}

}  // namespace sallyport::gateway
