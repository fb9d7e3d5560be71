// spctl sessions ls|show|play|export|verify: recorded sessions (DESIGN.md
// §9, issue 14 "Replay and search"). Needs the auditor or admin role; every
// call is itself an audit event (the CA writes it).
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "audit/asciicast.h"
#include "audit/recording_record.h"
#include "cli/spctl.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Audit::Stub;

constexpr int kRecordPage = 1000;
// Default terminal size when the recording has none.
constexpr uint32_t kDefaultColumns = 80;
constexpr uint32_t kDefaultRows = 24;

struct SessionArgs {
  std::string id;
  std::string user, host, since, until, grep;
  int limit = 100;
  double speed = 1.0;
  std::string max_idle;
  std::string format = "asciicast";
  int channel = -1;
  std::string out;
};

absl::StatusOr<std::optional<absl::Time>> TimeArg(const std::string& flag,
                                                  const std::string& v) {
  if (v.empty()) return std::optional<absl::Time>();
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, v, &t, &err)) return t;
  absl::StatusOr<absl::Duration> ago = ParseDurationFlag(v);
  if (ago.ok()) return absl::Now() - *ago;
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": want an RFC 3339 time or a duration before now (2h)"));
}

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

// A session's metadata and all its records.
struct Recording {
  av::RecordingSession session;
  std::vector<av::RecordingRecord> records;
  bool intact = false;
  uint64_t first_broken_seq = 0;
  std::string problem;
};

// `last` (any case) names the newest session the caller may see: the
// first of `sessions ls`.
constexpr absl::string_view kLastSession = "last";

std::optional<int> ResolveLast(Spctl& ctl, const std::string& purpose,
                               std::string* id) {
  if (!absl::EqualsIgnoreCase(*id, kLastSession)) return std::nullopt;
  pb::ListSessionsRequest req;
  req.set_limit(1);
  pb::ListSessionsResponse resp;
  if (auto rc = Call(ctl, ctl.Audit(), &Stub::ListSessions, req, &resp,
                     absl::StrCat("sessions ", purpose))) {
    return rc;
  }
  if (resp.sessions().empty()) {
    return ctl.Error("no recorded sessions yet", kExitNotFound);
  }
  *id = resp.sessions(0).id();
  return std::nullopt;
}

std::optional<int> Read(Spctl& ctl, std::string id, const std::string& purpose,
                        const std::string& format, Recording* rec) {
  if (auto rc = ResolveLast(ctl, purpose, &id)) return rc;
  uint64_t after = 0;
  for (;;) {
    pb::ReadSessionRequest req;
    req.set_id(id);
    req.set_after_seq(after);
    req.set_limit(kRecordPage);
    req.set_purpose(std::string(purpose));
    req.set_format(std::string(format));
    pb::ReadSessionResponse resp;
    if (auto rc = Call(ctl, ctl.Audit(), &Stub::ReadSession, req, &resp,
                       absl::StrCat("sessions ", purpose))) {
      return rc;
    }
    if (after == 0) {
      rec->session = resp.session();
      rec->intact = resp.intact();
      rec->first_broken_seq = resp.first_broken_seq();
      rec->problem = resp.problem();
    }
    for (const av::RecordingRecord& r : resp.records()) {
      rec->records.push_back(r);
    }
    if (resp.next_after_seq() == 0) break;
    after = resp.next_after_seq();
  }
  return std::nullopt;
}

// Checks the chain here (not trusting the CA's answer alone): the first
// broken seq and why, or 0.
std::pair<uint64_t, std::string> CheckChain(const Recording& rec) {
  std::string prev = std::string(audit::kRecordingGenesis);
  uint64_t seq = 0;
  for (const av::RecordingRecord& r : rec.records) {
    if (r.seq() != seq + 1) {
      return {seq + 1,
              absl::StrCat("record ", seq + 1,
                           " is missing (deleted?): the next is ", r.seq())};
    }
    absl::StatusOr<std::string> hash = audit::RecordHash(prev, r);
    if (!hash.ok() || *hash != r.hash()) {
      return {r.seq(), absl::StrCat("record ", r.seq(),
                                    " does not match its hash (edited?)")};
    }
    prev = r.hash();
    seq = r.seq();
  }
  if (seq != rec.session.last_seq()) {
    return {seq + 1, absl::StrCat("the session says ", rec.session.last_seq(),
                                  " records but ", seq, " are stored")};
  }
  if (prev != rec.session.chain_head()) {
    return {seq + 1, "the session's chain head is not its last record's hash"};
  }
  return {0, ""};
}

// One terminal channel: its id (the n-th channel opened, from 0), the
// downstream channel id and its records.
struct Channel {
  int index = 0;
  uint32_t channel_id = 0;
  std::string type;
  std::string command;
  uint32_t columns = kDefaultColumns, rows = kDefaultRows;
  bool sized = false;
  std::vector<const av::RecordingRecord*> records;
};

// Channels in open order; a record belongs to the latest open channel with
// its id (ids are reused).
std::vector<Channel> Channels(const Recording& rec) {
  std::vector<Channel> out;
  std::map<uint32_t, size_t> open;
  for (const av::RecordingRecord& r : rec.records) {
    if (r.has_channel_open()) {
      Channel c;
      c.index = static_cast<int>(out.size());
      c.channel_id = r.channel_id();
      c.type = r.channel_open().type();
      open[r.channel_id()] = out.size();
      out.push_back(std::move(c));
      continue;
    }
    auto it = open.find(r.channel_id());
    if (it == open.end()) continue;
    Channel& c = out[it->second];
    if (r.has_window_change() && !c.sized) {
      c.columns = r.window_change().columns();
      c.rows = r.window_change().rows();
      c.sized = true;
    }
    if (r.has_request() &&
        (r.request().type() == "exec" || r.request().type() == "subsystem")) {
      c.command = r.request().summary();
    }
    c.records.push_back(&r);
  }
  return out;
}

bool IsOutput(const av::RecordingRecord& r) {
  return r.has_data() && r.data().direction() == av::RECORD_DIRECTION_OUTPUT;
}

int List(Spctl& ctl, const SessionArgs& a) {
  pb::ListSessionsRequest req;
  req.set_user(a.user);
  req.set_host(a.host);
  req.set_grep(a.grep);
  req.set_limit(a.limit);
  auto since = TimeArg("--since", a.since);
  if (!since.ok()) return ctl.Error(since.status().message(), kExitUsage);
  auto until = TimeArg("--until", a.until);
  if (!until.ok()) return ctl.Error(until.status().message(), kExitUsage);
  if (*since) *req.mutable_since() = ProtoTime(**since);
  if (*until) *req.mutable_until() = ProtoTime(**until);
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
    ctl.out() << s.id() << "\t" << s.user() << "\t" << s.login() << "\t"
              << s.host() << "\t" << Time(s.started_at()) << "\t"
              << Time(s.ended_at()) << "\t" << s.status() << "\t"
              << s.bytes_in() << "\t" << s.bytes_out();
    if (!a.grep.empty()) {
      ctl.out() << "\t";
      for (int i = 0; i < s.matches_size(); ++i) {
        ctl.out() << (i ? ", " : "") << s.matches(i);
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

int Show(Spctl& ctl, const SessionArgs& a) {
  Recording rec;
  if (auto rc = Read(ctl, a.id, "show", "", &rec)) return *rc;
  if (ctl.Structured(rec.session)) return kExitOk;
  const av::RecordingSession& s = rec.session;
  auto [broken, why] = CheckChain(rec);
  ctl.out() << "session:   " << s.session_id() << "\nuser:      " << s.user()
            << "\nlogin:     " << s.login() << "\nhost:      " << s.host()
            << "\ngateway:   " << s.gateway_id()
            << "\nstarted:   " << UsTime(s.started_at_us())
            << "\nended:     " << UsTime(s.ended_at_us())
            << "\nstatus:    " << audit::SessionStatusText(s.status())
            << "\nbytes:     " << s.bytes_input() << " in, " << s.bytes_output()
            << " out\nrecords:   " << rec.records.size() << "\nintegrity: "
            << (broken == 0 && rec.intact
                    ? "intact (hash chain checks)"
                    : absl::StrCat("BROKEN: ", why.empty() ? rec.problem : why))
            << "\n";
  for (const Channel& c : Channels(rec)) {
    uint64_t in = 0, out = 0;
    std::optional<std::string> exit;
    for (const av::RecordingRecord* r : c.records) {
      if (r->has_channel_close()) {
        in = r->channel_close().bytes_input();
        out = r->channel_close().bytes_output();
      }
      if (r->has_request() && r->request().type() == "exit-status") {
        exit = r->request().summary();
      }
    }
    ctl.out() << "channel " << c.index << " (id " << c.channel_id
              << "): " << c.type;
    if (!c.command.empty()) ctl.out() << " command=" << c.command;
    ctl.out() << " bytes_in=" << in << " bytes_out=" << out;
    if (exit) ctl.out() << " exit=" << *exit;
    ctl.out() << "\n";
  }
  return kExitOk;
}

// The channel to play or export: --channel N (the N-th opened, from 0) or
// the first with recorded output.
const Channel* PickChannel(const std::vector<Channel>& channels, int wanted) {
  for (const Channel& c : channels) {
    if (wanted >= 0 ? c.index == wanted
                    : std::any_of(c.records.begin(), c.records.end(),
                                  [](const auto* r) { return IsOutput(*r); })) {
      return &c;
    }
  }
  return nullptr;
}

int Play(Spctl& ctl, const SessionArgs& a) {
  absl::Duration max_idle = absl::InfiniteDuration();
  if (!a.max_idle.empty()) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(a.max_idle);
    if (!d.ok()) return ctl.Error(d.status().message(), kExitUsage);
    max_idle = *d;
  }
  if (!(a.speed > 0)) return ctl.Error("--speed must be > 0", kExitUsage);
  Recording rec;
  if (auto rc = Read(ctl, a.id, "play", "", &rec)) return *rc;
  std::vector<Channel> channels = Channels(rec);
  const Channel* c = PickChannel(channels, a.channel);
  if (c == nullptr) return ctl.Error("no such channel with recorded output");
  ctl.err() << "spctl: playing " << rec.session.session_id() << " channel "
            << c->index << " (" << c->columns << "x" << c->rows << ")\n";
  // Ask the terminal for the recorded size (xterm window op; terminals
  // that do not support it ignore it).
  ctl.out() << "\x1b[8;" << c->rows << ";" << c->columns << "t";
  absl::Duration last = absl::ZeroDuration();
  bool first = true, sized = false;
  for (const av::RecordingRecord* r : c->records) {
    // The first window size is the one asked for above; later ones are
    // resizes, asked for when they happened.
    const bool resize = r->has_window_change() && sized;
    if (r->has_window_change()) sized = true;
    if (!IsOutput(*r) && !resize) continue;
    const absl::Duration at = absl::Microseconds(r->offset_us());
    if (!first) {
      absl::Duration wait = std::min(at - last, max_idle) / a.speed;
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    }
    first = false;
    last = at;
    if (resize) {
      ctl.out() << "\x1b[8;" << r->window_change().rows() << ";"
                << r->window_change().columns() << "t";
    } else {
      ctl.out() << r->data().bytes();
    }
    ctl.out().flush();
  }
  return kExitOk;
}

std::string Cast(const Recording& rec, const Channel& c) {
  std::string cast = audit::AsciicastWriter::Header(
      c.columns, c.rows, absl::FromUnixMicros(rec.session.started_at_us()),
      absl::StrCat(rec.session.user(), "@", rec.session.host(), " ",
                   rec.session.session_id(), " channel ", c.index));
  audit::AsciicastWriter w;
  // asciicast times start at the channel's first record.
  const absl::Duration start =
      c.records.empty() ? absl::ZeroDuration()
                        : absl::Microseconds(c.records.front()->offset_us());
  bool sized = false;
  for (const av::RecordingRecord* r : c.records) {
    const absl::Duration at = absl::Microseconds(r->offset_us()) - start;
    if (r->has_window_change()) {
      if (sized) {
        cast += w.Resize(at, r->window_change().columns(),
                         r->window_change().rows());
      }
      sized = true;
    } else if (IsOutput(*r)) {
      cast += w.Event(at, "o", r->data().bytes());
    } else if (r->has_data()) {
      cast += w.Event(at, "i", r->data().bytes());
    }
  }
  return cast;
}

int Export(Spctl& ctl, const SessionArgs& a) {
  if (a.format != "asciicast") {
    return ctl.Error("--format: only asciicast is supported", kExitUsage);
  }
  Recording rec;
  if (auto rc = Read(ctl, a.id, "export", a.format, &rec)) return *rc;
  std::vector<Channel> all = Channels(rec);
  std::vector<const Channel*> channels;
  for (const Channel& c : all) {
    if (a.channel >= 0 ? c.index == a.channel : c.type == "session") {
      channels.push_back(&c);
    }
  }
  if (channels.empty()) return ctl.Error("no such recorded channel");
  if (channels.size() > 1 && (a.out.empty() || a.out == "-")) {
    return ctl.Error(
        "the session has several channels: pass --channel N, or --out PREFIX "
        "for one file per channel (PREFIX.N.cast)",
        kExitUsage);
  }
  for (const Channel* c : channels) {
    const std::string cast = Cast(rec, *c);
    if (a.out.empty() || a.out == "-") {
      ctl.out() << cast;
      continue;
    }
    const std::string path =
        a.channel < 0 ? absl::StrCat(a.out, ".", c->index, ".cast") : a.out;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << cast;
    f.close();
    if (!f) return ctl.Error(absl::StrCat("cannot write ", path));
    ctl.err() << "wrote " << path << "\n";
  }
  return kExitOk;
}

int Verify(Spctl& ctl, const SessionArgs& a) {
  Recording rec;
  if (auto rc = Read(ctl, a.id, "verify", "", &rec)) return *rc;
  auto [broken, why] = CheckChain(rec);
  if (broken == 0 && !rec.intact) {
    broken = rec.first_broken_seq;
    why = rec.problem;
  }
  if (broken != 0) {
    ctl.out() << "session " << rec.session.session_id() << ": BROKEN at record "
              << broken << ": " << why << "\n";
    return kExitError;
  }
  ctl.out() << "session " << rec.session.session_id() << ": OK, "
            << rec.records.size() << " records, hash chain intact";
  // What is stored so far checks out, but a running session's recording
  // is not complete yet: an auditor must not take it for the whole.
  if (rec.session.status() == av::SESSION_STATUS_ACTIVE) {
    ctl.out() << " so far (still active: the recording is complete only "
                 "once the session ends)";
  }
  ctl.out() << "\n";
  return kExitOk;
}

}  // namespace

constexpr char kIdHelp[] = "session id, or `last` for the newest";

void AddSessionCommands(CLI::App& app, Spctl& ctl, Action* action) {
  CLI::App* sessions = app.add_subcommand(
      "sessions", "recorded sessions (needs the auditor or admin role)");
  sessions->require_subcommand(1);
  auto a = std::make_shared<SessionArgs>();

  CLI::App* ls = sessions->add_subcommand("ls", "list sessions, newest first");
  ls->add_option("--user", a->user, "only this user's sessions");
  ls->add_option("--host", a->host, "only sessions to this host");
  ls->add_option("--since", a->since, "started at or after (RFC 3339, or 2h)");
  ls->add_option("--until", a->until, "started before");
  ls->add_option("--grep", a->grep,
                 "text typed or printed in the session (or a command)");
  ls->add_option("--limit", a->limit,
                 "at most this many (default 100); with --grep, matching ones");
  OnRun(ls, action, [&ctl, a] { return List(ctl, *a); });

  CLI::App* show = sessions->add_subcommand(
      "show", "metadata, channels, bytes and recording of one session");
  show->add_option("ID", a->id, kIdHelp)->required();
  OnRun(show, action, [&ctl, a] { return Show(ctl, *a); });

  CLI::App* play = sessions->add_subcommand(
      "play", "replay a session in this terminal with its real timing");
  play->add_option("ID", a->id, kIdHelp)->required();
  play->add_option("--speed", a->speed, "playback speed (2 = twice as fast)");
  play->add_option("--max-idle", a->max_idle,
                   "cap pauses at this long (e.g. 2s)");
  play->add_option("--channel", a->channel, "the channel to play");
  OnRun(play, action, [&ctl, a] { return Play(ctl, *a); });

  CLI::App* exp = sessions->add_subcommand(
      "export", "export a session's terminal channels (asciicast v2)");
  exp->add_option("ID", a->id, kIdHelp)->required();
  exp->add_option("--format", a->format, "asciicast");
  exp->add_option("--channel", a->channel, "only this channel");
  exp->add_option("--out", a->out,
                  "file (one channel) or prefix (PREFIX.N.cast per channel); "
                  "default stdout");
  OnRun(exp, action, [&ctl, a] { return Export(ctl, *a); });

  CLI::App* verify = sessions->add_subcommand(
      "verify", "check a session's recording is complete and unmodified");
  verify->add_option("ID", a->id, kIdHelp)->required();
  OnRun(verify, action, [&ctl, a] { return Verify(ctl, *a); });
}

}  // namespace sallyport::cli
