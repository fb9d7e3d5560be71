// spctl sessions ls|show|play|export|verify: recorded sessions (DESIGN.md
// §9, issue 14 "Replay and search"). Needs the auditor or admin role; every
// call is itself an audit event (the CA writes it).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/asciicast.h"
#include "audit/recording_record.h"
#include "audit/terminal_text.h"
#include "base/safe_text.h"
#include "cli/partial_file.h"
#include "cli/spctl.h"
#include "cli/spctl_output.pb.h"
#include "cli/spctl_recording_kept.h"
#include "cli/spctl_recording_reader.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Audit::Stub;

// The fastest `sessions play --speed`: a recorded hour in 3.6 seconds.
constexpr uint64_t kMaxPlaySpeed = 1000;
// Without --max-idle, `sessions play` keeps the recorded pauses up to
// kLongPause and plays a longer one (a session left idle overnight, or
// offsets a CA forged days apart, which kept the auditor waiting days) as
// kLongPausePlayed, and says so at the end.
constexpr absl::Duration kLongPause = absl::Seconds(60);
constexpr absl::Duration kLongPausePlayed = absl::Seconds(5);

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
};

google::protobuf::Timestamp ProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

namespace av = audit::v1;

int List(Spctl& ctl, const SessionArgs& a) {
  pb::ListSessionsRequest req;
  req.set_user(a.user);
  req.set_host(a.host);
  req.set_grep(a.grep);
  req.set_limit(a.limit);
  absl::StatusOr<TimeRange> range =
      ParseTimeRange(a.since, a.until, absl::Now());
  if (!range.ok()) return ctl.Error(range.status().message(), kExitUsage);
  if (range->since) *req.mutable_since() = ProtoTime(*range->since);
  if (range->until) *req.mutable_until() = ProtoTime(*range->until);
  pb::ListSessionsResponse resp;
  if (auto rc = Call(ctl, ctl.Audit(), &Stub::ListSessions, req, &resp,
                     "sessions ls")) {
    return *rc;
  }
  if (ctl.Structured(resp)) return kExitOk;
  ctl.out() << "ID\tUSER\tLOGIN\tHOST\tSTARTED\tENDED\tSTATUS\tBYTES_IN\t"
               "BYTES_OUT"
            << (a.grep.empty() ? "" : "\tMATCHES") << "\n";
  for (const pb::SessionSummary& s : resp.sessions()) {
    // An active session's bytes are those so far (the CA counts what its
    // open channels recorded), not its totals.
    const char* so_far = s.status() == "active" ? " so far" : "";
    // Escaped as `show` escapes them: a stored id, name or matched line
    // must not drive the auditor's terminal or forge a row.
    ctl.out() << base::EscapeControls(s.id()) << "\t"
              << base::EscapeControls(s.user()) << "\t"
              << base::EscapeControls(s.login()) << "\t"
              << base::EscapeControls(s.host()) << "\t" << Time(s.started_at())
              << "\t" << Time(s.ended_at()) << "\t"
              << base::EscapeControls(s.status()) << "\t" << s.bytes_in()
              << so_far << "\t" << s.bytes_out() << so_far;
    if (!a.grep.empty()) {
      ctl.out() << "\t";
      for (int i = 0; i < s.matches_size(); ++i) {
        ctl.out() << (i ? ", " : "") << base::EscapeControls(s.matches(i));
      }
    }
    ctl.out() << "\n";
  }
  if (resp.grep_incomplete()) {
    ctl.err() << "spctl: the CA stopped searching after "
                 "10000 sessions; older ones were not searched (narrow the "
                 "search with --since/--until)\n";
  }
  return kExitOk;
}

std::string UsTime(int64_t us) {
  if (us == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(us),
                          absl::UTCTimeZone());
}

// The first broken record and why (0: the recording checks): the hash
// chain checked here, or else the CA's own check.
std::pair<uint64_t, std::string> Integrity(const RecordingHead& head,
                                           const ChainCheck& chain) {
  auto [broken, why] = chain.Finish(head.session);
  if (broken == 0 && !head.intact) {
    broken = head.first_broken_seq;
    why = head.problem;
  }
  return {broken, why};
}

// Play and export still show a recording that does not verify (an auditor
// may need what is left of it), but say so on stderr and exit 1: it may
// have been altered. kExitOk when it verifies.
int WarnIfBroken(Spctl& ctl, const RecordingHead& head,
                 const ChainCheck& chain) {
  auto [broken, why] = Integrity(head, chain);
  if (broken == 0) return kExitOk;
  const std::string id = base::EscapeControls(head.session.session_id());
  ctl.err() << "spctl: WARNING: the recording of session " << id
            << " does not verify (BROKEN at record " << broken << ": " << why
            << "): what was shown may have been altered or cut; see `spctl "
               "sessions verify "
            << id << "`\n";
  return kExitError;
}

int Show(Spctl& ctl, const SessionArgs& a) {
  RecordingHead head;
  ChainCheck chain;
  ChannelTracker tracker;
  std::string end_reason;
  if (auto rc = ReadRecords(ctl, a.id, "show", "", &head,
                            [&](const av::RecordingRecord& r) {
                              chain.Add(r);
                              tracker.Add(r);
                              if (r.has_session_end()) {
                                end_reason = r.session_end().message();
                              }
                              return true;
                            })) {
    return *rc;
  }
  const av::RecordingSession& s = head.session;
  spctl::SessionDetails details;
  // Its fields 1..12 are RecordingSession's, with the same numbers and
  // types (cli/spctl_output.proto): the session's bytes read as its own.
  if (!details.ParseFromString(s.SerializeAsString())) {
    return ctl.Error("cannot convert the session's metadata");
  }
  auto [broken, why] = Integrity(head, chain);
  const bool intact = broken == 0 && head.intact;
  details.set_records(chain.records());
  details.set_intact(intact);
  details.set_reason(end_reason);
  details.set_metadata_covered(chain.metadata_covered());
  if (!intact) {
    details.set_first_broken_seq(broken);
    details.set_problem(why.empty() ? head.problem : why);
  }
  for (const Channel& c : tracker.channels()) {
    *details.add_channels() = DescribeChannel(c);
  }
  if (ctl.Structured(details)) return kExitOk;
  // What users chose (a command, a destination) is escaped: it must not
  // forge lines or drive the auditor's terminal.
  const auto safe = [](std::string_view text) {
    return base::EscapeControls(text);
  };
  ctl.out() << "session:   " << safe(s.session_id())
            << "\nuser:      " << safe(s.user())
            << "\nlogin:     " << safe(s.login())
            << "\nhost:      " << safe(s.host())
            << "\ngateway:   " << safe(s.gateway_id())
            << "\nstarted:   " << UsTime(s.started_at_us())
            << "\nended:     " << UsTime(s.ended_at_us())
            << "\nstatus:    " << audit::SessionStatusText(s.status())
            << (end_reason.empty()
                    ? ""
                    : absl::StrCat("\nreason:    ", safe(end_reason)))
            << "\nbytes:     " << s.bytes_input() << " in, " << s.bytes_output()
            << " out"
            << (s.status() == av::SESSION_STATUS_ACTIVE
                    ? " so far (active: the recording is still being shipped)"
                    : "")
            << "\nrecords:   " << chain.records() << "\nintegrity: "
            << (!intact ? absl::StrCat("BROKEN: ", details.problem())
                : chain.metadata_covered()
                    ? std::string("intact (hash chain checks)")
                    : absl::StrCat("intact (hash chain checks; ",
                                   std::string(audit::kMetadataNotCovered),
                                   ")"))
            << "\n";
  for (int i = 0; i < details.channels_size(); ++i) {
    const Channel& c = tracker.channels()[i];
    ctl.out() << "channel " << c.index << " (id " << c.channel_id
              << "): " << safe(c.type);
    if (!c.destination.empty()) {
      ctl.out() << " destination=" << safe(c.destination);
    }
    if (!c.command.empty()) ctl.out() << " command=" << safe(c.command);
    ctl.out() << " bytes_in=" << c.bytes_in << " bytes_out=" << c.bytes_out;
    if (c.exit) ctl.out() << " exit=" << safe(*c.exit);
    // A command killed by a signal has no exit status (ssh returns 255).
    if (c.exit_signal) ctl.out() << " exit-signal=" << safe(*c.exit_signal);
    // What the recording holds of it, and what it does not (policy).
    ctl.out() << "\n  recorded: " << KeptText(details.channels(i)) << "\n";
  }
  return kExitOk;
}

// Whether `sessions play` and `sessions export` show record `r`: what a
// channel printed, or, for a channel chosen with --channel N (`chosen`),
// also its window size (the terminal to replay it in). A session, or a
// channel, with no such record has no terminal output (an exec whose
// output was not kept, only port forwards): both refuse it with
// NoTerminalOutput rather than play nothing or write an asciicast that is
// only a header.
bool Shows(const av::RecordingRecord& r, bool chosen) {
  return IsOutput(r) || (chosen && HasSize(r));
}

// The error of `verb` (play, export) when nothing it would show Shows:
// channel `channel` (-1: the session) printed nothing that was recorded.
int NoTerminalOutput(Spctl& ctl, const RecordingHead& head, int channel,
                     absl::string_view verb) {
  const std::string id = base::EscapeControls(head.session.session_id());
  return ctl.Error(absl::StrCat(
      channel >= 0 ? absl::StrCat("channel ", channel, " of session ")
                   : std::string("session "),
      id, " has no recorded terminal output to ", verb,
      " (`spctl sessions show ", id,
      "` lists its channels and what was recorded of each)"));
}

// The terminal modes a recorded program may have left on (a session that
// ended, or was cut, inside vim or htop): the alternate screen, mouse
// reporting, a hidden cursor, bracketed paste, application cursor keys and
// keypad, colours. Played as they were, they stayed on the auditor's
// terminal after `sessions play` (or Ctrl-C during it): the shell's prompt
// on the alternate screen, clicks typed as escape sequences.
constexpr char kTerminalModesOff[] =
    "\x1b[0m\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l"
    "\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?1l\x1b>\x1b[?1049l";

extern "C" void TurnTerminalModesOffAndExit(int sig) {
  (void)!write(STDOUT_FILENO, kTerminalModesOff, sizeof(kTerminalModesOff) - 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

// While a recording plays on a terminal: the modes are turned off when it
// ends, and when Ctrl-C (or a closed terminal, kill) ends spctl during it.
class PlayingOnTerminal {
 public:
  explicit PlayingOnTerminal(Spctl& ctl)
      : ctl_(ctl), terminal_(isatty(STDOUT_FILENO) == 1) {
    if (!terminal_) return;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
      struct sigaction old {};
      sigaction(sig, nullptr, &old);
      if (old.sa_handler == SIG_IGN) continue;  // nohup
      struct sigaction turn_off {};
      turn_off.sa_handler = TurnTerminalModesOffAndExit;
      sigemptyset(&turn_off.sa_mask);
      sigaction(sig, &turn_off, nullptr);
    }
  }
  ~PlayingOnTerminal() {
    if (!terminal_) return;
    ctl_.out() << kTerminalModesOff;
    ctl_.out().flush();
  }

 private:
  Spctl& ctl_;
  const bool terminal_;
};

// Plays the channel --channel N (the N-th opened, from 0), or else the
// first channel to print anything, as its records arrive.
int Play(Spctl& ctl, const SessionArgs& a) {
  absl::Duration max_idle = absl::InfiniteDuration();
  // The pauses kLongPause cut (without --max-idle) and the longest.
  int long_pauses = 0;
  absl::Duration longest = absl::ZeroDuration();
  if (!a.max_idle.empty()) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(a.max_idle);
    if (!d.ok()) return ctl.Error(d.status().message(), kExitUsage);
    max_idle = *d;
  }
  RecordingHead head;
  ChainCheck chain;
  ChannelTracker tracker;
  int playing = -1;
  audit::ReplayFilter replay_filter;
  absl::Duration last = absl::ZeroDuration();
  bool first = true;
  auto on_record = [&](const av::RecordingRecord& r) {
    if (chain.records() == 0 && !head.intact) {
      ctl.err() << "spctl: WARNING: the CA finds this recording BROKEN at "
                   "record "
                << head.first_broken_seq << " (" << head.problem
                << "); playing it anyway\n";
    }
    chain.Add(r);
    const Channel* c = tracker.Add(r);
    if (c == nullptr || r.has_channel_open()) return true;
    if (playing < 0) {
      // Picked at its first output, or with --channel at its first output
      // or window size, whichever comes first.
      if ((a.channel >= 0 && c->index != a.channel) ||
          !Shows(r, a.channel >= 0)) {
        return true;
      }
      playing = c->index;
      ctl.err() << "spctl: playing "
                << base::EscapeControls(head.session.session_id())
                << " channel " << c->index << " ("
                << (c->sized ? absl::StrCat(c->last_columns, "x", c->last_rows)
                             : std::string("no pty"))
                << ")\n";
      // Ask the terminal for the recorded size (xterm window op;
      // terminals that do not support it ignore it). Every later size is
      // a resize, asked for when it happened. A channel without a pty
      // (exec, sftp) has no size: its output is played as it is.
      if (c->sized) {
        ctl.out() << "\x1b[8;" << c->last_rows << ";" << c->last_columns << "t";
      }
      if (HasSize(r)) return true;  // that was this size
    }
    if (c->index != playing) return true;
    const bool resize = HasSize(r);
    if (!IsOutput(r) && !resize) return true;
    const absl::Duration at = absl::Microseconds(r.offset_us());
    if (!first) {
      absl::Duration pause = std::min(at - last, max_idle);
      if (a.max_idle.empty() && pause > kLongPause) {
        ++long_pauses;
        longest = std::max(longest, pause);
        pause = kLongPausePlayed;
      }
      const absl::Duration wait = pause / a.speed;
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    }
    first = false;
    last = at;
    if (resize) {
      ctl.out() << "\x1b[8;" << r.window_change().rows() << ";"
                << r.window_change().columns() << "t";
    } else {
      // Without the string controls (titles, OSC 52 clipboard writes, DCS)
      // a recorded program could aim at the auditor's terminal.
      ctl.out() << replay_filter.Feed(r.data().bytes());
    }
    ctl.out().flush();
    return true;
  };
  {
    PlayingOnTerminal on_terminal(ctl);
    if (auto rc = ReadRecords(ctl, a.id, "play", "", &head, on_record)) {
      return *rc;
    }
  }
  if (playing < 0) return NoTerminalOutput(ctl, head, a.channel, "play");
  if (long_pauses > 0) {
    ctl.err() << "spctl: note: " << long_pauses
              << (long_pauses == 1 ? " pause" : " pauses") << " longer than "
              << absl::FormatDuration(kLongPause) << " played as "
              << absl::FormatDuration(kLongPausePlayed)
              << " (the longest: " << absl::FormatDuration(longest)
              << "); --max-idle sets the longest pause played\n";
  }
  return WarnIfBroken(ctl, head, chain);
}

// One channel's asciicast, written as its records arrive: the header
// before the channel's first event (or at Finish), with its first window
// size, times from the channel's first record. Nothing is written before
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
    *out_ << audit::AsciicastWriter::Header(
        channel_.columns, channel_.rows,
        absl::FromUnixMicros(head_.session.started_at_us()),
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

// Exports the chosen channels as their records arrive: to a file per
// channel (written as PATH.partial and renamed when complete, so a failed
// export leaves no cut-off recording and keeps an older file), or to
// stdout. Stdout takes one channel: --channel N, or the
// first session channel (a session with several then ends with a usage
// error that says which one stdout has). What has no terminal output to
// show (Shows: an exec whose output was not kept, a port forward) is
// refused as `play` refuses it, with no file written; with --out PREFIX,
// a channel that has none is left out (and stderr says so).
int Export(Spctl& ctl, const SessionArgs& a) {
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
  // Why a file could not be written. Named as the user named it: the
  // PATH.partial being written is ours, not theirs.
  std::string failed;
  // An existing PATH (or PATH.partial) is replaced only with --force.
  const auto why_not = [](const absl::Status& st) {
    return st.code() == absl::StatusCode::kAlreadyExists
               ? absl::StrCat(st.message(), " (pass --force to replace it)")
               : std::string(st.message());
  };
  auto on_record = [&](const av::RecordingRecord& r) {
    chain.Add(r);
    const Channel* c = tracker.Add(r);
    if (c == nullptr) return true;
    if (r.has_channel_open()) {
      if (a.channel >= 0 ? c->index != a.channel : c->type != "session") {
        return true;
      }
      if (to_stdout && !targets.empty()) {
        ++not_exported;
        return true;
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
        if (!file.ok()) {
          failed = why_not(file.status());
          return false;
        }
        t->file = *std::move(file);
        out = &t->file->stream();
      }
      t->cast = std::make_unique<CastWriter>(head, *c, a.channel >= 0, out);
      targets[c->index] = std::move(t);
      return true;
    }
    auto it = targets.find(c->index);
    if (it == targets.end()) return true;
    Target& t = *it->second;
    t.cast->Add(r);
    // A failed write (a full disk) stops the export at once, with its
    // errno (a stream in error writes nothing more).
    if (t.file != nullptr && t.file->failed()) {
      failed = t.file->error();
      return false;
    }
    return true;
  };
  if (auto rc = ReadRecords(ctl, a.id, "export", a.format, &head, on_record)) {
    return *rc;
  }
  if (!failed.empty()) return ctl.Error(failed);
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
    return NoTerminalOutput(ctl, head, a.channel, "export");
  }
  for (auto& [index, t] : targets) {
    t->cast->Finish();
    if (to_stdout) continue;
    if (!t->cast->shows()) continue;  // left out below
    if (t->file->failed()) return ctl.Error(t->file->error());
  }
  for (auto& [index, t] : targets) {
    if (to_stdout) break;
    // A channel that printed nothing: an asciicast of only a header plays
    // nothing (its partial file is removed).
    if (!t->cast->shows()) {
      ctl.err() << "channel " << index
                << " has no recorded terminal output: no file written\n";
      continue;
    }
    if (absl::Status st = t->file->Commit(); !st.ok()) {
      return ctl.Error(why_not(st));
    }
    ctl.err() << "wrote " << t->file->path() << "\n";
  }
  if (not_exported > 0) return several_channels();
  return WarnIfBroken(ctl, head, chain);
}

int Verify(Spctl& ctl, const SessionArgs& a) {
  RecordingHead head;
  ChainCheck chain;
  if (auto rc = ReadRecords(ctl, a.id, "verify", "", &head,
                            [&](const av::RecordingRecord& r) {
                              chain.Add(r);
                              return true;
                            })) {
    return *rc;
  }
  auto [broken, why] = Integrity(head, chain);
  // The id as `show` writes it: one ending in "OK, ... intact" and ESC [8m
  // showed a fake OK with the BROKEN that followed concealed.
  const std::string id = base::EscapeControls(head.session.session_id());
  if (broken != 0) {
    ctl.out() << "session " << id << ": BROKEN at record " << broken << ": "
              << why << "\n";
    return kExitError;
  }
  ctl.out() << "session " << id << ": OK, " << chain.records()
            << " records, hash chain intact";
  // What is stored so far checks out, but a running session's recording
  // is not complete yet: an auditor must not take it for the whole.
  if (head.session.status() == av::SESSION_STATUS_ACTIVE) {
    ctl.out() << " so far (still active: the recording is complete only "
                 "once the session ends)";
  }
  // A recording made before session_start records: an edit of the
  // session's user, login, host or start would not show.
  if (!chain.metadata_covered()) {
    ctl.out() << "; " << audit::kMetadataNotCovered;
  }
  ctl.out() << "\n";
  return kExitOk;
}

// --channel N: the N-th channel opened, from 0, in decimal (-1, the
// default, is not for typing).
CLI::Validator ChannelNumber() {
  return DecimalInRange(0, INT32_MAX, "NUMBER >= 0");
}

}  // namespace

constexpr char kIdHelp[] = "session id, or `last` for the newest";

void AddSessionCommands(CLI::App& app, Spctl& ctl, Action* action) {
  CLI::App* sessions = app.add_subcommand(
      "sessions", "recorded sessions (needs the auditor or admin role)");
  sessions->require_subcommand(1);
  auto a = std::make_shared<SessionArgs>();

  CLI::App* ls = sessions->add_subcommand("ls", "list sessions, newest first");
  ls->add_option("--user", a->user, "only this user's sessions (any case)");
  ls->add_option("--host", a->host, "only sessions to this host (any case)");
  ls->add_option("--since", a->since, "started at or after (RFC 3339, or 2h)");
  ls->add_option("--until", a->until, "started before");
  ls->add_option("--grep", a->grep,
                 "text typed or printed in the session (or a command)");
  ls->add_option("--limit", a->limit,
                 "at most this many (default 100); with --grep, matching ones")
      ->transform(DecimalInRange(1, INT32_MAX, "NUMBER > 0"));
  OnRun(ls, action, [&ctl, a] { return List(ctl, *a); });

  CLI::App* show = sessions->add_subcommand(
      "show", "metadata, bytes, channels and what the recording kept of each");
  show->add_option("ID", a->id, kIdHelp)->required();
  OnRun(show, action, [&ctl, a] { return Show(ctl, *a); });

  CLI::App* play = sessions->add_subcommand(
      "play", "replay a session in this terminal with its real timing");
  play->add_option("ID", a->id, kIdHelp)->required();
  play->add_option("--speed", a->speed,
                   absl::StrCat("playback speed (2 = twice as fast, at most ",
                                kMaxPlaySpeed, ")"))
      ->check(PositiveDecimalUpTo(kMaxPlaySpeed, "NUMBER > 0"));
  play->add_option(
      "--max-idle", a->max_idle,
      absl::StrCat("cap pauses at this long (e.g. 2s; 1000h for the real "
                   "timing); default: pauses up to ",
                   absl::FormatDuration(kLongPause),
                   " as recorded, longer ones as ",
                   absl::FormatDuration(kLongPausePlayed),
                   " (a note at the end says how many)"));
  play->add_option("--channel", a->channel,
                   "the channel to play (default: the first to print)")
      ->transform(ChannelNumber());
  OnRun(play, action, [&ctl, a] { return Play(ctl, *a); });

  CLI::App* exp = sessions->add_subcommand(
      "export", "export a session's terminal channels (asciicast v2)");
  exp->add_option("ID", a->id, kIdHelp)->required();
  exp->add_option("--format", a->format, "asciicast");
  exp->add_option("--channel", a->channel, "only this channel")
      ->transform(ChannelNumber());
  exp->add_option("--out", a->out,
                  "with --channel N: that file; without: a prefix, "
                  "PREFIX.N.cast per session channel, or a directory, "
                  "DIR/ID.N.cast (files are 0600: recordings may hold typed "
                  "secrets); default stdout");
  exp->add_flag("--force", a->force,
                "replace a file that exists (without it, an existing file "
                "is an error and stays as it was)");
  OnRun(exp, action, [&ctl, a] { return Export(ctl, *a); });

  CLI::App* verify = sessions->add_subcommand(
      "verify", "check a session's recording is complete and unmodified");
  verify->add_option("ID", a->id, kIdHelp)->required();
  OnRun(verify, action, [&ctl, a] { return Verify(ctl, *a); });
}

}  // namespace sallyport::cli
