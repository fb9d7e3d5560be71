// The gateway's real Recorder (issue 14): taps that turn channel events
// into recording records (audit/recording_record.h) for the session's spool
// (audit/recorder.h). Data taps are asynchronous (record before forward):
// LastTicket()/Recorded() tell the bridge when it may hand bytes on.
//
// What is recorded per channel:
//   - every channel: channel_open (type, destination), requests (type and
//     summary), window changes, channel_close with bytes each way;
//   - pty sessions: output, stderr and input (the role's record_input,
//     ChannelInfo::record_input; unset: on for pty sessions and for a
//     shell without a pty, whose input is its commands; off otherwise);
//   - exec without a pty: output and stderr up to record_exec_output_limit
//     per channel (the two together), then only counted and hashed (a
//     stream_summary record per stream at close with the total and SHA-256
//     of the whole stream, hashed on the I/O thread as the bytes pass);
//   - sftp subsystem and `scp -t/-f`, direct-tcpip and the other tunnels:
//     byte counts only (stream_summary + channel_close).
#ifndef SALLYPORT_GATEWAY_SPOOL_TAP_H_
#define SALLYPORT_GATEWAY_SPOOL_TAP_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "audit/recorder.h"
#include "gateway/recorder.h"

namespace sallyport::gateway {

// Bytes of channel data per data record. Every record must fit one upload
// message (the CA refuses messages over 1 MiB, ca::RecordingService::
// kMaxMessageBytes, and the shipper sends at most
// audit::kShipMaxMessageBytes of records per message, at least one), so a
// larger write is split into several records. SSH packets are at most 32
// KiB in practice; the cap only matters for a peer's larger ones.
inline constexpr size_t kMaxTapDataRecordBytes = size_t{256} << 10;

// Streams (direction and SSH data type code) one channel's tap keeps state
// for (a hash, counts; a stream_summary at close): data and stderr, each
// way. The bridges hand a tap stream 0 both ways and stderr from the host
// only (kHostExtendedDataCode in gateway/proxy.h: other extended data is
// dropped before the tap), so this is never reached; it is there so that a
// code path that forgot the drop cannot let a peer grow the state with
// codes of its choosing. A Data call for one more stream is our bug:
// kInternal, and nothing is kept (strict ends the channel; best effort
// would stop recording it, which is why no peer may reach this).
inline constexpr size_t kMaxTapStreams = 4;

struct SpoolTapOptions {
  int64_t exec_output_limit = int64_t{16} << 20;
  // At most kMaxTapDataRecordBytes (larger values are capped to it).
  size_t max_data_record_bytes = kMaxTapDataRecordBytes;
};

class SpoolTapRecorder : public Recorder {
 public:
  // `recorder` must outlive this and every tap.
  SpoolTapRecorder(audit::SpoolRecorder& recorder, SpoolTapOptions options)
      : recorder_(recorder), options_(options) {}

  absl::StatusOr<std::unique_ptr<ChannelTap>> Attach(
      const ChannelInfo& info) override;
  // Appends the session_end record: status failed when the recording
  // failed, ended otherwise; the reason is its message.
  void EndSession(const std::string& session_id,
                  const SessionEnding& ending) override;

  // The session's recording, if one is open (tests).
  std::shared_ptr<audit::SessionRecording> Find(const std::string& id);

 private:
  class Tap;
  audit::SpoolRecorder& recorder_;
  const SpoolTapOptions options_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<audit::SessionRecording>> sessions_
      ABSL_GUARDED_BY(mu_);
};

// Refuses every channel with `reason` (the spool could not be set up).
class RefusingRecorder : public Recorder {
 public:
  explicit RefusingRecorder(std::string reason) : reason_(std::move(reason)) {}
  absl::StatusOr<std::unique_ptr<ChannelTap>> Attach(
      const ChannelInfo&) override {
    return absl::UnavailableError(reason_);
  }

 private:
  const std::string reason_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_SPOOL_TAP_H_
