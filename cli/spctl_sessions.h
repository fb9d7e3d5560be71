// The verbs of `spctl sessions` that read a recording (show, play, export,
// verify), shared by spctl_sessions.cc (the commands, ls, show, verify),
// spctl_sessions_play.cc and spctl_sessions_export.cc, and their tests,
// which hand them a recording of their own (ReadRecordsFn).
#ifndef SALLYPORT_CLI_SPCTL_SESSIONS_H_
#define SALLYPORT_CLI_SPCTL_SESSIONS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/spctl.h"
#include "cli/spctl_recording_reader.h"
#include "proto/audit.pb.h"

namespace sallyport::cli {

// The fastest `sessions play --speed`: a recorded hour in 3.6 seconds.
inline constexpr uint64_t kMaxPlaySpeed = 1000;
// Without --max-idle, `sessions play` keeps the recorded pauses up to
// kLongPause and plays a longer one (a session left idle overnight, or
// offsets a CA forged days apart, which kept the auditor waiting days) as
// kLongPausePlayed, and says so at the end.
inline constexpr absl::Duration kLongPause = absl::Seconds(60);
inline constexpr absl::Duration kLongPausePlayed = absl::Seconds(5);

// The most files `sessions export --out PREFIX` writes for one recording
// (one per session channel), so that a CA, or what answers as one, cannot
// make it create a file for each of a million channels. Each file stays
// open until the export completes (a descriptor and a 64 KiB buffer: 64
// MiB at this limit, and within the 1024 descriptors a process usually
// may open); a session with more terminal channels than this is exported
// one channel at a time with --channel N.
inline constexpr size_t kMaxExportFiles = 1000;

// The flags and arguments of `spctl sessions`.
struct SessionArgs {
  std::string id;
  std::string user, host, since, until, grep;
  int limit = 100;
  double speed = 1.0;
  std::string max_idle;
  std::string format = "asciicast";
  int channel = -1;
  std::string out;
  bool force = false;
  std::string reason;  // sessions abandon --reason
};

// Reads the session's recording for a verb: fills `head` and hands each
// record to `on_record`, as ReadRecords does (nullopt once read, else the
// exit code after printing why).
using ReadRecordsFn = std::function<std::optional<int>(
    RecordingHead* head, const RecordFn& on_record)>;

// The verbs, each reading the recording with `read`: exit codes as the
// commands return them. Play plays channel --channel N, or the first to
// print, as its records arrive. Export writes the chosen channels as
// asciicast v2 to stdout or to files (--out), and stops with
// "spctl: sessions export: ..." (kExitError, no file written) at a
// recording with more than kMaxExportFiles channels to write files for.
// Show, Play and Export stop with "spctl: sessions VERB: the recording
// opens more than 1000000 channels, ..." (kExitError) at a recording past
// kMaxRecordingChannels, and with "spctl: sessions VERB: channel N of the
// recording has more than 16 streams, ..." at a channel past
// kMaxRecordingStreamsPerChannel.
int Show(Spctl& ctl, const ReadRecordsFn& read);
int Play(Spctl& ctl, const SessionArgs& a, const ReadRecordsFn& read);
int Export(Spctl& ctl, const SessionArgs& a, const ReadRecordsFn& read);
int Verify(Spctl& ctl, const ReadRecordsFn& read);

// The first broken record and why (0: the recording checks): the hash
// chain checked here, or else the CA's own check.
std::pair<uint64_t, std::string> Integrity(const RecordingHead& head,
                                           const ChainCheck& chain);

// Play and export still show a recording that does not verify (an auditor
// may need what is left of it), but say so on stderr and exit 1: it may
// have been altered. kExitOk when it verifies.
int WarnIfBroken(Spctl& ctl, const RecordingHead& head,
                 const ChainCheck& chain);

// Whether `sessions play` and `sessions export` show record `r`: what a
// channel printed, or, for a channel chosen with --channel N (`chosen`),
// also its window size (the terminal to replay it in). A session, or a
// channel, with no such record has no terminal output (an exec whose
// output was not kept, only port forwards): both refuse it with
// NoTerminalOutput rather than play nothing or write an asciicast that is
// only a header.
bool Shows(const audit::v1::RecordingRecord& r, bool chosen);

// The error of `verb` (play, export) when nothing it would show Shows:
// channel `channel` (-1: the session) printed nothing that was recorded,
// or (exit 3) the session has no channel `channel` among `channels`.
int NoTerminalOutput(Spctl& ctl, const RecordingHead& head,
                     const std::deque<Channel>& channels, int channel,
                     absl::string_view verb);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SPCTL_SESSIONS_H_
