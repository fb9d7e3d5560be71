// spctl sessions ls|show|play|export|verify: recorded sessions (DESIGN.md
// §9, issue 14 "Replay and search"). Needs the auditor or admin role; every
// call is itself an audit event (the CA writes it). `sessions abandon`
// (the admin role) marks a session whose gateway is gone for good.
// Play and export are in spctl_sessions_play.cc and
// spctl_sessions_export.cc.
#include "cli/spctl_sessions.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/recording_record.h"
#include "base/safe_text.h"
#include "cli/spctl.h"
#include "cli/spctl_output.pb.h"
#include "cli/spctl_recording_kept.h"
#include "cli/spctl_recording_reader.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Audit::Stub;

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

// How long `sessions ls --grep` waits for the CA's search.
constexpr absl::Duration kGrepTimeout = absl::Minutes(10);

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
  // A search reads recordings (up to 256 MiB each, at most 10000 of
  // them): it gets longer than a listing. The CA stops once it is gone.
  if (auto rc =
          Call(ctl, ctl.Audit(), &Stub::ListSessions, req, &resp, "sessions ls",
               a.grep.empty() ? Spctl::kCallTimeout : kGrepTimeout)) {
    return *rc;
  }
  // What was not searched goes to stderr, whatever the output format.
  if (resp.grep_partial_size() > 0) {
    ctl.err() << "spctl: " << resp.grep_partial_size()
              << " session(s) were searched only in their first 256 MiB of "
                 "recording, with no match there (read them whole with "
                 "`spctl sessions export`):";
    for (const std::string& id : resp.grep_partial()) {
      ctl.err() << " " << base::EscapeControls(id);
    }
    ctl.err() << "\n";
  }
  if (resp.grep_incomplete()) {
    ctl.err() << "spctl: the CA stopped searching after "
                 "10000 sessions; older ones were not searched (narrow the "
                 "search with --since/--until)\n";
  }
  if (ctl.Structured(resp)) return kExitOk;
  ctl.out() << "ID\tUSER\tLOGIN\tHOST\tSTARTED\tENDED\tSTATUS\tBYTES_IN\t"
               "BYTES_OUT"
            << (a.grep.empty() ? "" : "\tMATCHES") << "\n";
  for (const pb::SessionSummary& s : resp.sessions()) {
    // An active session's bytes are those so far (the CA counts what its
    // open channels recorded), not its totals.
    const char* so_far = s.status() == "active" ? " so far" : "";
    // Active, but an admin said its gateway is gone for good.
    const bool abandoned = s.status() == "active" && s.has_abandoned();
    // Escaped as `show` escapes them: a stored id, name or matched line
    // must not drive the auditor's terminal or forge a row.
    ctl.out() << base::EscapeControls(s.id()) << "\t"
              << base::EscapeControls(s.user()) << "\t"
              << base::EscapeControls(s.login()) << "\t"
              << base::EscapeControls(s.host()) << "\t" << Time(s.started_at())
              << "\t" << Time(s.ended_at()) << "\t"
              << (abandoned ? std::string("abandoned")
                            : base::EscapeControls(s.status()))
              << "\t" << s.bytes_in() << so_far << "\t" << s.bytes_out()
              << so_far;
    if (!a.grep.empty()) {
      ctl.out() << "\t";
      for (int i = 0; i < s.matches_size(); ++i) {
        ctl.out() << (i ? ", " : "") << base::EscapeControls(s.matches(i));
      }
    }
    ctl.out() << "\n";
  }
  return kExitOk;
}

std::string UsTime(int64_t us) {
  if (us == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(us),
                          absl::UTCTimeZone());
}

// The admin's mark, as `show` prints it.
std::string AbandonedText(const pb::SessionAbandoned& a) {
  return absl::StrCat("marked abandoned by ", base::EscapeControls(a.by()),
                      " at ", Time(a.at()), ": ",
                      base::EscapeControls(a.reason()));
}

int Abandon(Spctl& ctl, const SessionArgs& a) {
  pb::AbandonSessionRequest req;
  req.set_id(a.id);
  req.set_reason(a.reason);
  pb::SessionSummary resp;
  if (auto rc = Call(ctl, ctl.Admin(), &pb::Admin::Stub::AbandonSession, req,
                     &resp, absl::StrCat("sessions abandon ", a.id))) {
    return *rc;
  }
  if (ctl.Structured(resp)) return kExitOk;
  ctl.out() << "Session " << base::EscapeControls(resp.id()) << " ("
            << base::EscapeControls(resp.user()) << ", "
            << base::EscapeControls(resp.login()) << "@"
            << base::EscapeControls(resp.host()) << ", started "
            << Time(resp.started_at()) << ") is "
            << AbandonedText(resp.abandoned())
            << "\nIf its gateway comes back, what it ships is still stored "
               "and its real end replaces this.\n";
  return kExitOk;
}

}  // namespace

std::pair<uint64_t, std::string> Integrity(const RecordingHead& head,
                                           const ChainCheck& chain) {
  auto [broken, why] = chain.Finish(head.session);
  if (broken == 0 && !head.intact) {
    broken = head.first_broken_seq;
    why = head.problem;
  }
  return {broken, why};
}

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

int Show(Spctl& ctl, const ReadRecordsFn& read) {
  RecordingHead head;
  ChainCheck chain;
  ChannelTracker tracker;
  std::string end_reason;
  if (auto rc =
          read(&head, [&](const av::RecordingRecord& r) -> std::optional<int> {
            chain.Add(r);
            if (absl::StatusOr<Channel*> c = tracker.Add(r); !c.ok()) {
              return ReadingError(ctl, "show", c.status());
            }
            if (r.has_session_end()) end_reason = r.session_end().message();
            return std::nullopt;
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
  if (head.abandoned) *details.mutable_abandoned() = *head.abandoned;
  if (!intact) {
    details.set_first_broken_seq(broken);
    details.set_problem(why.empty() ? head.problem : why);
  }
  for (const Channel& c : tracker.channels()) {
    *details.add_channels() = DescribeChannel(c);
  }
  if (ctl.Structured(details)) return kExitOk;
  // Active, but an admin said its gateway is gone for good.
  const bool abandoned =
      head.abandoned.has_value() && s.status() == av::SESSION_STATUS_ACTIVE;
  // What users chose (a command, a destination) is escaped: it must not
  // forge lines or drive the auditor's terminal.
  const auto safe = [](std::string_view text) {
    return base::EscapeControls(text);
  };
  ctl.out()
      << "session:   " << safe(s.session_id())
      << "\nuser:      " << safe(s.user()) << "\nlogin:     " << safe(s.login())
      << "\nhost:      " << safe(s.host())
      << "\ngateway:   " << safe(s.gateway_id())
      << "\nstarted:   " << UsTime(s.started_at_us())
      << "\nended:     " << UsTime(s.ended_at_us())
      << "\nstatus:    " << audit::SessionStatusText(s.status())
      << (abandoned ? " (marked abandoned: its gateway is not expected to "
                      "ship the rest)"
                    : "")
      << (end_reason.empty() ? ""
                             : absl::StrCat("\nreason:    ", safe(end_reason)))
      << (head.abandoned
              ? absl::StrCat("\nabandoned: ", AbandonedText(*head.abandoned))
              : std::string())
      << "\nbytes:     " << s.bytes_input() << " in, " << s.bytes_output()
      << " out"
      << (abandoned ? " so far"
          : s.status() == av::SESSION_STATUS_ACTIVE
              ? " so far (active: the recording is still being shipped)"
              : "")
      << "\nrecords:   " << chain.records() << "\nintegrity: "
      << (!intact ? absl::StrCat("BROKEN: ", details.problem())
          : chain.metadata_covered()
              ? std::string("intact (hash chain checks)")
              : absl::StrCat("intact (hash chain checks; ",
                             std::string(audit::kMetadataNotCovered), ")"))
      << "\n";
  for (int i = 0; i < details.channels_size(); ++i) {
    const Channel& c = tracker.channels()[i];
    ctl.out() << "channel " << c.index << " (id " << c.channel_id
              << "): " << safe(c.type);
    if (!c.destination.empty()) {
      ctl.out() << " destination=" << safe(c.destination);
    }
    // A subsystem by its own name: `command=sftp` read the same for the
    // sftp subsystem (scp, sftp) and an exec of a program named sftp.
    if (!c.command.empty()) {
      ctl.out() << (c.subsystem.empty() ? " command=" : " subsystem=")
                << safe(c.command);
    }
    ctl.out() << " bytes_in=" << c.bytes_in << " bytes_out=" << c.bytes_out;
    if (c.exit) ctl.out() << " exit=" << safe(*c.exit);
    // A command killed by a signal has no exit status (ssh returns 255).
    if (c.exit_signal) ctl.out() << " exit-signal=" << safe(*c.exit_signal);
    // What the recording holds of it, and what it does not (policy).
    ctl.out() << "\n  recorded: " << KeptText(details.channels(i)) << "\n";
  }
  return kExitOk;
}

bool Shows(const av::RecordingRecord& r, bool chosen) {
  return IsOutput(r) || (chosen && HasSize(r));
}

int NoTerminalOutput(Spctl& ctl, const RecordingHead& head,
                     const std::deque<Channel>& channels, int channel,
                     absl::string_view verb) {
  const std::string id = base::EscapeControls(head.session.session_id());
  // A channel the session never had is another mistake than one that
  // printed nothing: name the ones it had.
  if (channel >= 0 &&
      std::none_of(channels.begin(), channels.end(),
                   [&](const Channel& c) { return c.index == channel; })) {
    std::vector<int> indices;
    for (const Channel& c : channels) indices.push_back(c.index);
    return ctl.Error(
        absl::StrCat("session ", id, " has no channel ", channel,
                     indices.empty()
                         ? std::string(" (it has no channels)")
                         : absl::StrCat(" (its channels: ",
                                        ChannelIndices(indices), ")")),
        kExitNotFound);
  }
  return ctl.Error(absl::StrCat(
      channel >= 0 ? absl::StrCat("channel ", channel, " of session ")
                   : std::string("session "),
      id, " has no recorded terminal output to ", verb,
      " (`spctl sessions show ", id,
      "` lists its channels and what was recorded of each)"));
}

int Verify(Spctl& ctl, const ReadRecordsFn& read) {
  RecordingHead head;
  ChainCheck chain;
  if (auto rc =
          read(&head, [&](const av::RecordingRecord& r) -> std::optional<int> {
            chain.Add(r);
            return std::nullopt;
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
    ctl.out() << (head.abandoned
                      ? " so far (marked abandoned: its gateway is not "
                        "expected to ship the rest)"
                      : " so far (still active: the recording is complete "
                        "only once the session ends)");
  }
  // A recording made before session_start records: an edit of the
  // session's user, login, host or start would not show.
  if (!chain.metadata_covered()) {
    ctl.out() << "; " << audit::kMetadataNotCovered;
  }
  ctl.out() << "\n";
  return kExitOk;
}

namespace {

// --channel N: the N-th channel opened, from 0, in decimal (-1, the
// default, is not for typing).
CLI::Validator ChannelNumber() {
  return DecimalInRange(0, INT32_MAX, "NUMBER >= 0");
}

// The recording of session --ID from the CA, for `purpose` (show, play,
// export, verify: the CA's audit event says which) in `format`.
ReadRecordsFn FromCa(Spctl& ctl, std::shared_ptr<SessionArgs> a,
                     std::string purpose, std::string format = "") {
  return [&ctl, a, purpose, format](RecordingHead* head,
                                    const RecordFn& on_record) {
    return ReadRecords(ctl, a->id, purpose, format, head, on_record);
  };
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
  OnRun(show, action, [&ctl, a] { return Show(ctl, FromCa(ctl, a, "show")); });

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
  OnRun(play, action,
        [&ctl, a] { return Play(ctl, *a, FromCa(ctl, a, "play")); });

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
  OnRun(exp, action, [&ctl, a] {
    return Export(ctl, *a, FromCa(ctl, a, "export", a->format));
  });

  CLI::App* abandon = sessions->add_subcommand(
      "abandon",
      "mark an active session abandoned: its gateway is gone for good and "
      "will not ship its end (needs the admin role)");
  abandon->add_option("ID", a->id, "session id")->required();
  abandon
      ->add_option("--reason", a->reason,
                   "why (shown with the session and kept in the audit log)")
      ->required();
  OnRun(abandon, action, [&ctl, a] { return Abandon(ctl, *a); });

  CLI::App* verify = sessions->add_subcommand(
      "verify", "check a session's recording is complete and unmodified");
  verify->add_option("ID", a->id, kIdHelp)->required();
  OnRun(verify, action,
        [&ctl, a] { return Verify(ctl, FromCa(ctl, a, "verify")); });
}

}  // namespace sallyport::cli
