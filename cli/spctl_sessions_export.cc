// spctl sessions export: a recording's terminal channels as asciicast v2
// files (or stdout), written as their records arrive.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/asciicast.h"
#include "base/safe_text.h"
#include "cli/partial_file.h"
#include "cli/spctl.h"
#include "cli/spctl_recording_reader.h"
#include "cli/spctl_sessions.h"

namespace sallyport::cli {
namespace {

namespace av = audit::v1;

// One channel's asciicast, written as its records arrive: the header
// before the channel's first event (or at Finish), with its first window
// size and the time of the channel's first record, and event times from
// that record. Nothing is written before
// an event, so a channel that never Shows anything has written nothing
// when Export refuses it (unless it had input, or resizes after its first
// size, before its first output).
class CastWriter {
 public:
  // `chosen`: the channel was chosen with --channel N (Shows).
  CastWriter(const RecordingHead& head, const Channel& c, bool chosen,
             std::ostream* out)
      : head_(head), channel_(c), chosen_(chosen), out_(out) {}

  void Add(const av::RecordingRecord& r) {
    if (Shows(r, chosen_)) shows_ = true;
    const absl::Duration offset = absl::Microseconds(r.offset_us());
    if (!started_) {
      start_ = offset;
      started_ = true;
    }
    const absl::Duration at = offset - start_;
    last_ = at;
    if (HasSize(r)) {
      // The first size is the header's (the channel's columns and rows);
      // once the header is out (after an earlier event, with the default
      // size) or a size was seen, a size is a resize.
      if (header_written_ || sized_) {
        Write(w_.Resize(at, r.window_change().columns(),
                        r.window_change().rows()));
      }
      sized_ = true;
    } else if (IsOutput(r)) {
      Write(w_.Event(at, "o", r.data().bytes()));
    } else if (r.has_data()) {
      Write(w_.Event(at, "i", r.data().bytes()));
    }
  }
  // A channel with no event still gets its header; the last bytes of a
  // character the recording ended inside are written (as U+FFFD).
  void Finish() {
    Write(w_.Flush(last_));
    Header();
  }
  // Whether a record it was given Shows.
  bool shows() const { return shows_; }

 private:
  void Header() {
    if (header_written_) return;
    header_written_ = true;
    // Event times count from the channel's first record exported: so does
    // the header's time (the session's start is another channel's in a
    // multiplexed session: ControlMaster, Ansible, VS Code).
    *out_ << audit::AsciicastWriter::Header(
        channel_.columns, channel_.rows,
        absl::FromUnixMicros(head_.session.started_at_us()) +
            (started_ ? start_ : absl::ZeroDuration()),
        absl::StrCat(head_.session.user(), "@", head_.session.host(), " ",
                     head_.session.session_id(), " channel ", channel_.index));
  }
  void Write(const std::string& line) {
    if (line.empty()) return;
    Header();
    *out_ << line;
  }

  const RecordingHead& head_;
  const Channel& channel_;
  const bool chosen_;
  std::ostream* out_;
  audit::AsciicastWriter w_;
  absl::Duration start_, last_;
  bool started_ = false, header_written_ = false, sized_ = false;
  bool shows_ = false;
};

}  // namespace

// Exports the chosen channels as their records arrive: to a file per
// channel (written as PATH.partial and renamed when complete, so a failed
// export leaves no cut-off recording and keeps an older file), or to
// stdout. Stdout takes one channel: --channel N, or the
// first session channel (a session with several then ends with a usage
// error that says which one stdout has). What has no terminal output to
// show (Shows: an exec whose output was not kept, a port forward) is
// refused as `play` refuses it, with no file written; with --out PREFIX,
// a channel that has none is left out (and stderr says so).
int Export(Spctl& ctl, const SessionArgs& a, const ReadRecordsFn& read) {
  if (a.format != "asciicast") {
    return ctl.Error("--format: only asciicast is supported", kExitUsage);
  }
  const bool to_stdout = a.out.empty() || a.out == "-";
  // A prefix that is a directory (or ends in '/'): the files go in it,
  // named after the session, DIR/ID.N.cast. As a plain prefix it wrote
  // DIR.N.cast beside the directory, or the hidden DIR/.N.cast.
  bool into_dir = false;
  if (!to_stdout && a.channel < 0) {
    struct stat st {};
    into_dir = a.out.back() == '/' ||
               (::stat(a.out.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
  }
  const auto prefix = [&](const std::string& id) {
    if (!into_dir) return a.out;
    const bool plain_id =
        !id.empty() && id.front() != '.' &&
        id.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
            "xyz0123456789._-") == std::string::npos;
    return absl::StrCat(a.out, a.out.back() == '/' ? "" : "/",
                        plain_id ? id : "session");
  };
  struct Target {
    std::unique_ptr<PartialFile> file;  // null: stdout
    std::unique_ptr<CastWriter> cast;
  };
  RecordingHead head;
  ChainCheck chain;
  ChannelTracker tracker;
  std::map<int, std::unique_ptr<Target>> targets;  // by channel index
  int not_exported = 0;  // session channels stdout had no room for
  // Why a file could not be written, named as the user named it (the
  // PATH.partial being written is ours, not theirs). An existing PATH (or
  // PATH.partial) is replaced only with --force.
  const auto why_not = [](const absl::Status& st) {
    return st.code() == absl::StatusCode::kAlreadyExists
               ? absl::StrCat(st.message(), " (pass --force to replace it)")
               : std::string(st.message());
  };
  auto on_record = [&](const av::RecordingRecord& r) -> std::optional<int> {
    chain.Add(r);
    absl::StatusOr<Channel*> added = tracker.Add(r);
    if (!added.ok()) return ReadingError(ctl, "export", added.status());
    const Channel* c = *added;
    if (c == nullptr) return std::nullopt;
    if (r.has_channel_open()) {
      if (a.channel >= 0 ? c->index != a.channel : c->type != "session") {
        return std::nullopt;
      }
      if (to_stdout && !targets.empty()) {
        ++not_exported;
        return std::nullopt;
      }
      if (targets.size() >= kMaxExportFiles) {
        const std::string id = base::EscapeControls(head.session.session_id());
        return ctl.Error(absl::StrCat(
            "sessions export: session ", id, " has more than ", kMaxExportFiles,
            " session channels, the most spctl writes files for at once: "
            "pass --channel N to export one (`spctl sessions show ",
            id, "` lists them)"));
      }
      auto t = std::make_unique<Target>();
      std::ostream* out = &ctl.out();
      if (!to_stdout) {
        // Owner only from its first byte: a recording may hold passwords
        // typed at a prompt.
        absl::StatusOr<std::unique_ptr<PartialFile>> file = PartialFile::Create(
            a.channel < 0 ? absl::StrCat(prefix(head.session.session_id()), ".",
                                         c->index, ".cast")
                          : a.out,
            a.force);
        if (!file.ok()) return ctl.Error(why_not(file.status()));
        t->file = *std::move(file);
        out = &t->file->stream();
      }
      t->cast = std::make_unique<CastWriter>(head, *c, a.channel >= 0, out);
      targets[c->index] = std::move(t);
      return std::nullopt;
    }
    auto it = targets.find(c->index);
    if (it == targets.end()) return std::nullopt;
    Target& t = *it->second;
    t.cast->Add(r);
    // A failed write (a full disk) stops the export at once, with its
    // errno (a stream in error writes nothing more).
    if (t.file != nullptr && t.file->failed()) {
      return ctl.Error(t.file->error());
    }
    return std::nullopt;
  };
  if (auto rc = read(&head, on_record)) return *rc;
  const auto several_channels = [&] {
    return ctl.Error(
        absl::StrCat("the session has several channels and stdout has only "
                     "channel ",
                     targets.begin()->first,
                     ": pass --channel N, or --out PREFIX for one file per "
                     "channel (PREFIX.N.cast)"),
        kExitUsage);
  };
  // As `play` refuses it: no file is written (the partial ones are
  // removed), nothing was printed.
  if (std::none_of(targets.begin(), targets.end(),
                   [](const auto& t) { return t.second->cast->shows(); })) {
    if (not_exported > 0) return several_channels();
    return NoTerminalOutput(ctl, head, tracker.channels(), a.channel, "export");
  }
  for (auto& [index, t] : targets) {
    t->cast->Finish();
    if (to_stdout) continue;
    if (!t->cast->shows()) continue;  // left out below
    if (t->file->failed()) return ctl.Error(t->file->error());
  }
  // Channels that printed nothing: an asciicast of only a header plays
  // nothing (their partial files are removed). Named in one line after
  // the files: a ControlMaster session of many commands has many.
  std::vector<int> quiet;
  for (auto& [index, t] : targets) {
    if (to_stdout) break;
    if (!t->cast->shows()) {
      quiet.push_back(index);
      continue;
    }
    if (absl::Status st = t->file->Commit(); !st.ok()) {
      return ctl.Error(why_not(st));
    }
    ctl.err() << "wrote " << t->file->path() << "\n";
  }
  if (quiet.size() == 1) {
    ctl.err() << "channel " << quiet[0]
              << " has no recorded terminal output: no file written\n";
  } else if (!quiet.empty()) {
    ctl.err() << quiet.size() << " channels have no recorded terminal output ("
              << ChannelIndices(quiet) << "): no file written for them\n";
  }
  if (not_exported > 0) return several_channels();
  return WarnIfBroken(ctl, head, chain);
}

}  // namespace sallyport::cli
