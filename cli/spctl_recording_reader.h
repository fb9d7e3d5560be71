// Reading a recorded session for `spctl sessions` (cli/spctl_sessions*.cc):
// page by page from the CA's Audit service, with the hash chain checked
// here and the records assigned to their channels as they arrive. For
// spctl_sessions*.cc (and their tests).
#ifndef SALLYPORT_CLI_SPCTL_RECORDING_READER_H_
#define SALLYPORT_CLI_SPCTL_RECORDING_READER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/recording_record.h"
#include "cli/spctl.h"
#include "proto/admin.pb.h"
#include "proto/audit.pb.h"

namespace sallyport::cli {

// Default terminal size when the recording has none.
inline constexpr uint32_t kDefaultColumns = 80;
inline constexpr uint32_t kDefaultRows = 24;

// A session's metadata and the CA's own check of its recording (from the
// first page).
struct RecordingHead {
  audit::v1::RecordingSession session;
  bool intact = false;
  uint64_t first_broken_seq = 0;
  std::string problem;
  // Set when an admin marked the session abandoned.
  std::optional<admin::v1::SessionAbandoned> abandoned;
};

// `*id` of `last` (any case) becomes the id of the newest session the
// caller may see (the first of `sessions ls`); other ids are left as they
// are. nullopt on success, else the exit code after printing why (no
// session yet: kExitNotFound). `purpose` names the verb in messages.
std::optional<int> ResolveLast(Spctl& ctl, const std::string& purpose,
                               std::string* id);

// Called with each record in seq order: nullopt to go on, or an exit code
// (after printing why) that ends the reading with it.
using RecordFn =
    std::function<std::optional<int>(const audit::v1::RecordingRecord&)>;

// Reads session `id` (or `last`, ResolveLast) page by page (at most 1000
// records and 2 MiB per page, ca/audit_service.h): `head` is filled from
// the first page, then `on_record` sees every record once. Only one page
// is held at a time, so a recording of any size needs little memory here,
// and playback starts with the first page. `purpose` ("show", "play",
// "export", "verify") and `format` go to the CA for its audit event.
// nullopt once read, else the exit code after printing why (or the one
// `on_record` ended it with).
std::optional<int> ReadRecords(Spctl& ctl, std::string id,
                               const std::string& purpose,
                               const std::string& format, RecordingHead* head,
                               const RecordFn& on_record);

// "spctl: sessions PURPOSE: WHY" (the message of `why`): returns
// kExitError, for what ends a reading of a recording.
int ReadingError(Spctl& ctl, absl::string_view purpose,
                 const absl::Status& why);

// One ReadSession call: nullopt with the page in *response, else the exit
// code after printing why.
using ReadPage = std::function<std::optional<int>(
    const admin::v1::ReadSessionRequest& request,
    admin::v1::ReadSessionResponse* response)>;

// ReadRecords of session `id` (not `last`) with `read_page` for each page.
// A CA that would keep the reading going ends it with "spctl: sessions
// PURPOSE: WHY" (kExitError): a page whose next_after_seq is not after the
// one asked for, an empty page that names a next one, or a
// base::kMaxRecordingPages-th page that names another (CheckNextPage).
std::optional<int> ReadRecordPages(Spctl& ctl, const std::string& id,
                                   const std::string& purpose,
                                   const std::string& format,
                                   const ReadPage& read_page,
                                   RecordingHead* head,
                                   const RecordFn& on_record);

// Checks the hash chain here, record by record as they arrive (not
// trusting the CA's answer alone), and the session's metadata against it
// (audit::SessionMetadataCheck).
class ChainCheck {
 public:
  // The next record in the order read.
  void Add(const audit::v1::RecordingRecord& r);
  // Once every record was added: the first broken seq and why, or 0.
  std::pair<uint64_t, std::string> Finish(
      const audit::v1::RecordingSession& session) const;
  uint64_t records() const { return records_; }
  // Whether the chain holds the session's user, login, host and start (a
  // session_start record); recordings made before them do not.
  bool metadata_covered() const { return metadata_.covered(); }

 private:
  audit::SessionMetadataCheck metadata_;
  std::string prev_ = std::string(audit::kRecordingGenesis);
  uint64_t seq_ = 0;
  uint64_t records_ = 0;
  uint64_t broken_ = 0;
  std::string why_;
};

// What the recording holds of one stream of a channel: the bytes of its
// data records, and its stream summary (a stream not kept whole: exec
// output past its limit, a file transfer, a tunnel, input not recorded).
struct RecordedStream {
  uint64_t bytes = 0;
  std::optional<audit::v1::StreamSummaryRecord> summary;
};

// The most streams, (direction, SSH data type) pairs, that `sessions
// show|play|export` take for one channel of a recording (ChannelTracker
// keeps each stream's byte count and summary), so that a CA, or what
// answers as one, that sends data records with a new ssh_stream each
// cannot make spctl's memory grow until it is killed: kMaxRecordingChannels
// does not bound the streams of one channel, and base::kMaxRecordingPages
// would let one channel reach 10^9. SSH defines two data types (RFC 4254
// §5.2: 0 for data, 1 for stderr), in each direction: four streams; this
// leaves room for a peer's own data types. A stream with its summary takes
// about 200 bytes here: 3 KiB a channel at this limit.
inline constexpr size_t kMaxRecordingStreamsPerChannel = 16;

// One channel of the session: the n-th opened (from 0), its downstream
// channel id, and what its records said so far.
struct Channel {
  int index = 0;
  uint32_t channel_id = 0;
  std::string type;
  std::string destination;  // direct-tcpip and other tunnels
  std::string command;
  // The first window size (the terminal's at the start) and the latest.
  uint32_t columns = kDefaultColumns, rows = kDefaultRows;
  bool sized = false;
  uint32_t last_columns = kDefaultColumns, last_rows = kDefaultRows;
  bool has_output = false;
  std::string subsystem;                 // e.g. sftp
  bool pty = false;                      // a pty-req was recorded
  bool closed = false;                   // its channel_close was recorded
  uint64_t bytes_in = 0, bytes_out = 0;  // from the close
  std::optional<std::string> exit;
  std::optional<std::string> exit_signal;  // e.g. KILL
  // What the recording holds, per stream (input?, SSH data type): at most
  // kMaxRecordingStreamsPerChannel of them.
  std::map<std::pair<bool, uint32_t>, RecordedStream> streams;
};

// True for data the session printed (output, not input).
bool IsOutput(const audit::v1::RecordingRecord& r);

// Channel indices for a message: the first kChannelsNamed joined by ", ",
// then ", ..." when there are more (Ansible over one ControlMaster
// connection opens 75).
inline constexpr size_t kChannelsNamed = 10;
std::string ChannelIndices(const std::vector<int>& indices);

// A window size worth showing: `ssh -tt` without a local terminal asks for
// a 0x0 pty, which is no size at all.
bool HasSize(const audit::v1::RecordingRecord& r);

// The most channels `sessions show|play|export` take from one recording
// (ChannelTracker keeps every channel opened: `show` lists them all at the
// end), so that a CA, or what answers as one, that sends channel_open
// records without end cannot make spctl's memory grow until it is killed:
// base::kMaxRecordingPages alone would let it reach 10^9 channels. A
// gateway connection has at most limits.max_channels_per_connection
// channels open at once (64 by default, 4096 at most), but a session that
// lasts (a ControlMaster connection running a command a second, VS Code
// forwarding a web server's connections) opens and closes many over its
// hours: a channel every 100 ms for a day is 864000. A channel takes about
// 400 bytes here when its texts are short, so this is about 0.4 GB.
inline constexpr size_t kMaxRecordingChannels = 1000000;

// Assigns records to channels as they arrive: a record belongs to the
// latest open channel with its id (ids are reused).
class ChannelTracker {
 public:
  // The channel `r` opens or belongs to, updated with it; null when none.
  // References stay valid (a deque). kResourceExhausted ("the recording
  // opens more than 1000000 channels, the most spctl reads of one
  // recording") for a channel_open past kMaxRecordingChannels channels, and
  // ("channel N of the recording has more than 16 streams, the most spctl
  // reads of one channel") for data or a stream summary of a stream past
  // kMaxRecordingStreamsPerChannel of its channel.
  absl::StatusOr<Channel*> Add(const audit::v1::RecordingRecord& r);
  const std::deque<Channel>& channels() const { return channels_; }

 private:
  std::deque<Channel> channels_;
  std::map<uint32_t, Channel*> open_;
};

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SPCTL_RECORDING_READER_H_
