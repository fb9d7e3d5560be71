// The recording tap (issue 12 "Recording tap"): a Recorder sees every byte
// of every channel in both directions, with timestamps, window changes and
// channel metadata. //audit owns the real implementations (spool +
// shipper); here are the interface, a NullRecorder and an InMemoryRecorder.
//
// Rules the proxy keeps: no channel opens before its tap is attached
// (Attach succeeded); a tap call that fails ends the channel (fail closed).
// Taps are called on the session's thread only.
#ifndef SALLYPORT_GATEWAY_RECORDER_H_
#define SALLYPORT_GATEWAY_RECORDER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace sallyport::gateway {

// What a channel is, for the recording's metadata.
struct ChannelInfo {
  std::string session_id;
  // When the session started: the user authenticated (the `at` of its
  // session.start event). The recording starts then, not at its first
  // channel, which may come much later (`ssh -N -L`). InfinitePast:
  // unknown (the first channel's attach time).
  absl::Time session_started_at = absl::InfinitePast();
  // The same instant on the gateway's monotonic clock
  // (base::Clock::Monotonic()), as the taps' times are: record offsets are
  // measured from it, so a wall-clock step during the session moves none.
  // Read only with session_started_at.
  absl::Duration session_started_monotonic;
  std::string user;  // the key id of the user's certificate
  std::string login;
  std::string host;
  uint32_t channel_id = 0;  // the downstream channel id
  // "session" or "direct-tcpip" (opened by the user), "forwarded-tcpip"
  // (`-R`) or "auth-agent@openssh.com" (agent forwarding; both opened by
  // the host).
  std::string type;
  // For direct-tcpip: "HOST:PORT".
  std::string destination;
  // Record before forward (issue 14): called from any thread when an
  // asynchronous tap's Recorded() may have become true or its Health()
  // failed; the connection posts a look at its channels to its executor.
  std::function<void()> wake;
  // The role's record_input (issue 14): whether user input is recorded;
  // unset: on for pty sessions, off otherwise.
  std::optional<bool> record_input;
};

enum class Direction {
  kInput,   // user → host (channel data the user sent)
  kOutput,  // host → user
};

// One channel's tap. Every method returns an error to end the channel.
// `at` is when it happened on the gateway's monotonic clock
// (base::Clock::Monotonic()): a record's offset in the session, which a
// wall-clock step must not move.
class ChannelTap {
 public:
  virtual ~ChannelTap() = default;
  // Channel data; `stream` 0 is data, 1 is stderr (extended data; the
  // bridges drop other codes before the tap, see kHostExtendedDataCode).
  virtual absl::Status Data(absl::Duration at, Direction direction,
                            uint32_t stream,
                            absl::Span<const uint8_t> bytes) = 0;
  // A channel request the gateway forwarded ("pty-req", "shell", "exec",
  // "subsystem", "env", "signal", "break", "exit-status", ...) with a
  // printable summary (the command, the subsystem name, the exit code).
  virtual absl::Status Request(absl::Duration at, Direction direction,
                               std::string_view type,
                               std::string_view summary) = 0;
  // The terminal size (pty-req and window-change).
  virtual absl::Status WindowChange(absl::Duration at, uint32_t columns,
                                    uint32_t rows) = 0;
  // The channel is gone (once; nothing is called afterwards).
  virtual void Close(absl::Duration at) = 0;

  // Record before forward (issue 14). An asynchronous tap queues what it
  // is given and returns at once; the bridge hands data (and the EOF,
  // requests and close behind it) to the other side only once
  // Recorded(LastTicket() at the time) is true, and consumes the window
  // then, so a slow disk pauses the channel. Synchronous taps (the
  // defaults) have recorded everything when the call returns.
  virtual uint64_t LastTicket() const { return 0; }
  virtual bool Recorded(uint64_t ticket) const {
    (void)ticket;
    return true;
  }
  // An error once the recording failed (the session must end).
  virtual absl::Status Health() const { return absl::OkStatus(); }
};

// How a session ended, for its recording's end record.
struct SessionEnding {
  // The recording failed (a strict record_mode ended the session): the
  // recording is stored as failed, not ended.
  bool recording_failed = false;
  // Why the gateway ended the session ("certificate revoked",
  // SessionEndReason); empty when the user or the host ended it.
  std::string reason;
};

class Recorder {
 public:
  virtual ~Recorder() = default;
  // A tap for a channel about to be opened; an error refuses the channel.
  virtual absl::StatusOr<std::unique_ptr<ChannelTap>> Attach(
      const ChannelInfo& info) = 0;
  // The connection of `session_id` ended (once, after its channels'
  // Close), as `ending` says.
  virtual void EndSession(const std::string& session_id,
                          const SessionEnding& ending) {
    (void)session_id;
    (void)ending;
  }
};

// A tap that keeps nothing and has recorded everything (NullRecorder's
// taps; best effort once the recorder failed).
std::unique_ptr<ChannelTap> MakeNullTap();

// Records nothing (benchmarks, `record: never`).
class NullRecorder : public Recorder {
 public:
  absl::StatusOr<std::unique_ptr<ChannelTap>> Attach(
      const ChannelInfo& info) override;
};

// Keeps everything in memory, for tests: thread-safe, bounded by
// `max_bytes` of data over all channels. A Data call beyond it fails (so
// the channel ends: the fail-closed path), as does every call after
// FailAll().
class InMemoryRecorder : public Recorder {
 public:
  static constexpr size_t kDefaultMaxBytes = 64 << 20;

  struct Event {
    absl::Duration at;  // on the monotonic clock
    uint32_t channel_id = 0;
    // "data", "request", "window", "close".
    std::string kind;
    Direction direction = Direction::kOutput;
    uint32_t stream = 0;
    std::string bytes;  // data; the request type; ""
    std::string summary;
    uint32_t columns = 0, rows = 0;
  };
  struct Channel {
    ChannelInfo info;
    bool closed = false;
  };

  explicit InMemoryRecorder(size_t max_bytes = kDefaultMaxBytes)
      : max_bytes_(max_bytes) {}

  absl::StatusOr<std::unique_ptr<ChannelTap>> Attach(
      const ChannelInfo& info) override;

  // Makes every later Attach and tap call fail.
  void FailAll();
  std::vector<Channel> channels() const;
  std::vector<Event> events() const;
  // The concatenated data of channels of `host` in one direction/stream.
  std::string DataFor(std::string_view host, Direction direction,
                      uint32_t stream = 0) const;

 private:
  class Tap;
  absl::Status Add(size_t channel_index, Event event);

  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Channel> channels_ ABSL_GUARDED_BY(mu_);
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> event_channel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_RECORDER_H_
