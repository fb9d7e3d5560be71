// spctl audit ls|export|verify: the CA's hash-chained event log (DESIGN.md
// §9, docs/audit-events.md). Needs the auditor or admin role; every call is
// itself an audit event. `verify` recomputes every hash here, on the
// auditor's machine, and names the first broken link.
#include "cli/spctl_audit.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "audit/audit_hash.h"
#include "base/event_line.h"
#include "base/rpc_limits.h"
#include "base/safe_text.h"
#include "base/yaml_proto.h"
#include "cli/spctl.h"
#include "cli/spctl_output.pb.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Audit::Stub;

constexpr int kEventPage = 1000;

struct AuditArgs {
  std::string since;
  std::string until;
  bool json = false;
};

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t us = absl::ToUnixMicros(t);
  ts.set_seconds(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
  ts.set_nanos(static_cast<int32_t>((us - ts.seconds() * 1000000) * 1000));
  return ts;
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", FromProtoTime(t),
                          absl::UTCTimeZone());
}

// One event as a JSON line (docs/audit-events.md "Schema"); the payload is
// embedded as stored (it is always a JSON object).
std::string EventJson(const pb::AuditEvent& e) {
  std::string head = base::JsonObject({{"seq", static_cast<int64_t>(e.seq())},
                                       {"time", TimeText(e.time())},
                                       {"type", e.type()},
                                       {"actor", e.actor()}});
  std::string tail =
      base::JsonObject({{"prev_hash", e.prev_hash()}, {"hash", e.hash()}});
  head.pop_back();  // '}'
  return absl::StrCat(
      head, ",\"payload\":", e.payload_json().empty() ? "{}" : e.payload_json(),
      ",", tail.substr(1));
}

void EmitJsonValue(YAML::Emitter& out, const google::protobuf::Value& v);

// Keys sorted (a Struct keeps no order).
void EmitJsonObject(YAML::Emitter& out, const google::protobuf::Struct& s) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : s.fields()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  out << YAML::BeginMap;
  for (const std::string& key : keys) {
    out << YAML::Key << YAML::DoubleQuoted << key << YAML::Value;
    EmitJsonValue(out, s.fields().at(key));
  }
  out << YAML::EndMap;
}

void EmitJsonValue(YAML::Emitter& out, const google::protobuf::Value& v) {
  using google::protobuf::Value;
  switch (v.kind_case()) {
    case Value::kStructValue:
      EmitJsonObject(out, v.struct_value());
      return;
    case Value::kListValue:
      out << YAML::BeginSeq;
      for (const Value& item : v.list_value().values()) {
        EmitJsonValue(out, item);
      }
      out << YAML::EndSeq;
      return;
    case Value::kStringValue:
      out << YAML::DoubleQuoted << v.string_value();
      return;
    case Value::kNumberValue: {
      // Whole numbers as integers (a Struct holds doubles: exact up to 2^53,
      // beyond any count or id the payloads carry).
      const double d = v.number_value();
      out << (std::fabs(d) < 9007199254740992.0 && d == std::trunc(d)
                  ? absl::StrCat(static_cast<int64_t>(d))
                  : absl::StrFormat("%.17g", d));
      return;
    }
    case Value::kBoolValue:
      out << (v.bool_value() ? "true" : "false");
      return;
    default:
      out << YAML::Null;
      return;
  }
}

}  // namespace

// One event as an item of a YAML list, with the keys and values of its
// JSON line (EventJson): the payload as a mapping. Text YAML cannot carry
// exactly (a noncharacter such as U+FFFE in a recorded command) is
// written as U+FFFD after a comment that says so.
std::string AuditEventYaml(const pb::AuditEvent& e) {
  std::string note;
  if (!base::YamlCarriesText(EventJson(e))) {
    note = absl::StrCat(
        "# event ", e.seq(),
        " holds text YAML cannot carry exactly (a Unicode noncharacter such "
        "as U+FFFE); shown with U+FFFD in its place (--json prints it "
        "exactly)\n");
  }
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);
  out << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "seq" << YAML::Value << absl::StrCat(e.seq());
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"time", TimeText(e.time())},
        {"type", e.type()},
        {"actor", e.actor()}}) {
    out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
  }
  out << YAML::Key << "payload" << YAML::Value;
  google::protobuf::Struct payload;
  if (!e.payload_json().empty() &&
      !google::protobuf::util::JsonStringToMessage(e.payload_json(), &payload)
           .ok()) {
    out << YAML::DoubleQuoted << e.payload_json();  // as stored
  } else {
    EmitJsonObject(out, payload);
  }
  out << YAML::Key << "prev_hash" << YAML::Value << YAML::DoubleQuoted
      << e.prev_hash() << YAML::Key << "hash" << YAML::Value
      << YAML::DoubleQuoted << e.hash();
  out << YAML::EndMap << YAML::EndSeq;
  return absl::StrCat(note, out.c_str(), "\n");
}

namespace {

// Calls ListAuditEvents page by page for the events in `range`
// (WalkAuditPages).
std::optional<int> Walk(Spctl& ctl, const TimeRange& range,
                        const std::string& purpose,
                        const std::function<void(const pb::AuditEvent&)>& each,
                        pb::ListAuditEventsResponse* head) {
  return WalkAuditPages(
      ctl, range, purpose,
      [&](const pb::ListAuditEventsRequest& req,
          pb::ListAuditEventsResponse* resp) {
        return Call(ctl, ctl.Audit(), &Stub::ListAuditEvents, req, resp,
                    absl::StrCat("audit ", purpose));
      },
      each, head);
}

int List(Spctl& ctl, const AuditArgs& a, bool export_all) {
  const bool yaml = ctl.format() == OutputFormat::kYaml;
  if (yaml && a.json) {
    return ctl.Error("--json and --output yaml: pass one of them", kExitUsage);
  }
  const bool json = !yaml && (a.json || export_all || !ctl.table());
  absl::StatusOr<TimeRange> range =
      ParseTimeRange(a.since, a.until, absl::Now());
  if (!range.ok()) return ctl.Error(range.status().message(), kExitUsage);
  // The table's header once the CA answered, as `sessions ls` prints its
  // own: a refusal leaves nothing on stdout.
  bool header = json || yaml;
  const auto print_header = [&] {
    if (!header) ctl.out() << "SEQ\tTIME\tTYPE\tACTOR\tPAYLOAD\n";
    header = true;
  };
  pb::ListAuditEventsResponse head;
  std::optional<int> rc = Walk(
      ctl, *range, export_all ? "export" : "ls",
      [&](const pb::AuditEvent& e) {
        print_header();
        if (yaml) {
          ctl.out() << AuditEventYaml(e);
        } else if (json) {
          ctl.out() << EventJson(e) << "\n";
        } else {
          // Who acted and what they sent may be anyone's text (the user
          // name of a failed login): escaped, so that it cannot drive the
          // auditor's terminal, forge rows or read as other text.
          ctl.out() << e.seq() << "\t" << TimeText(e.time()) << "\t"
                    << base::EscapeControls(e.type()) << "\t"
                    << base::EscapeControls(e.actor()) << "\t"
                    << base::JsonForTerminal(e.payload_json()) << "\n";
        }
      },
      &head);
  if (rc) return *rc;
  print_header();  // an empty table still has one
  return kExitOk;
}

// Recomputes the chain from the first event; the first problem, naming the
// event, or OK.
class ChainChecker {
 public:
  void Add(const pb::AuditEvent& e) {
    ++checked_;
    if (!problem_.ok()) return;
    audit::AuditEvent ev;
    ev.seq = e.seq();
    ev.time = FromProtoTime(e.time());
    ev.type = e.type();
    ev.actor = e.actor();
    ev.payload_json = e.payload_json();
    ev.prev_hash = e.prev_hash();
    ev.hash = e.hash();
    if (ev.seq != head_.seq + 1) {
      problem_ = absl::DataLossError(absl::StrCat(
          "event ", head_.seq + 1,
          ev.seq > head_.seq + 1
              ? absl::StrCat(" is missing (deleted?): the next event is ",
                             ev.seq)
              : absl::StrCat(" is out of order: found event ", ev.seq)));
      return;
    }
    problem_ = audit::VerifyAuditChain(head_, {ev});
    if (!problem_.ok()) {
      problem_ = absl::DataLossError(absl::StrCat(
          problem_.message(),
          " (edited, or an event before it changed; the chain breaks at event ",
          ev.seq, ")"));
      return;
    }
    head_ = {ev.seq, ev.hash};
  }
  absl::Status Finish(uint64_t head_seq, const std::string& head_hash) {
    if (!problem_.ok()) return problem_;
    if (head_.seq < head_seq) {
      return absl::DataLossError(absl::StrCat(
          "event ", head_.seq + 1, " is missing (deleted?): the chain head is ",
          head_seq, " but the log ends at event ", head_.seq));
    }
    if (head_.seq == head_seq && head_.hash != head_hash) {
      return absl::DataLossError(absl::StrCat(
          "the chain head's hash does not match event ", head_seq));
    }
    return absl::OkStatus();
  }
  uint64_t checked() const { return checked_; }
  uint64_t last() const { return head_.seq; }

 private:
  audit::AuditHead head_{0, std::string(audit::kAuditGenesisHash)};
  absl::Status problem_;
  uint64_t checked_ = 0;
};

int Verify(Spctl& ctl) {
  ChainChecker checker;
  pb::ListAuditEventsResponse head;
  std::optional<int> rc = Walk(
      ctl, TimeRange(), "verify",
      [&](const pb::AuditEvent& e) { checker.Add(e); }, &head);
  if (rc) return *rc;
  absl::Status st = checker.Finish(head.head_seq(), head.head_hash());
  spctl::AuditVerification result;
  result.set_intact(st.ok());
  result.set_events(checker.checked());
  result.set_intact_up_to_seq(checker.last());
  result.set_head_seq(head.head_seq());
  result.set_problem(std::string(st.message()));
  if (ctl.Structured(result)) return st.ok() ? kExitOk : kExitError;
  if (!st.ok()) {
    ctl.out() << "audit log: BROKEN: " << st.message() << "\n";
    return kExitError;
  }
  ctl.out() << "audit log: OK, " << checker.checked()
            << " events, chain intact up to event " << checker.last() << "\n";
  return kExitOk;
}

}  // namespace

std::optional<int> WalkAuditPages(
    Spctl& ctl, const TimeRange& range, const std::string& purpose,
    const ReadAuditPage& read_page,
    const std::function<void(const pb::AuditEvent&)>& each,
    pb::ListAuditEventsResponse* head) {
  uint64_t after = 0;
  for (size_t pages = 1;; ++pages) {
    pb::ListAuditEventsRequest req;
    req.set_after_seq(after);
    req.set_limit(kEventPage);
    req.set_purpose(std::string(purpose));
    if (range.since) *req.mutable_since() = ToProtoTime(*range.since);
    if (range.until) *req.mutable_until() = ToProtoTime(*range.until);
    pb::ListAuditEventsResponse resp;
    if (auto rc = read_page(req, &resp)) return rc;
    for (const pb::AuditEvent& e : resp.events()) each(e);
    head->set_head_seq(resp.head_seq());
    head->set_head_hash(resp.head_hash());
    if (resp.next_after_seq() == 0) break;
    // Each page starts after the one before, or this would never end; an
    // empty one is not refused (CheckNextPage would): with a time range
    // the CA sends pages of none of the events it looked at.
    absl::Status next =
        resp.next_after_seq() <= after
            ? absl::FailedPreconditionError(
                  "the CA's next page does not start after this one")
            : CheckPageLimit(pages, base::kMaxAuditLogPages,
                             "the most spctl reads of the audit log");
    if (!next.ok()) {
      return ctl.Error(absl::StrCat("audit ", purpose, ": ", next.message()));
    }
    after = resp.next_after_seq();
  }
  return std::nullopt;
}

void AddAuditCommands(CLI::App& app, Spctl& ctl, Action* action) {
  CLI::App* audit = app.add_subcommand(
      "audit", "the audit log (needs the auditor or admin role)");
  audit->require_subcommand(1);
  auto args = std::make_shared<AuditArgs>();
  for (const char* verb : {"ls", "export"}) {
    const bool is_export = std::string_view(verb) == "export";
    CLI::App* sub = audit->add_subcommand(
        verb, is_export ? "print events as JSON lines (docs/audit-events.md; "
                          "a YAML list with --output yaml)"
                        : "list events (JSON lines with --output json, a "
                          "YAML list with --output yaml)");
    sub->add_option("--since", args->since,
                    "from this time (RFC 3339, or a duration ago: 2h)");
    sub->add_option("--until", args->until, "before this time");
    sub->add_flag("--json", args->json, "one JSON object per line");
    OnRun(sub, action,
          [&ctl, args, is_export] { return List(ctl, *args, is_export); });
  }
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "walk the hash chain; name the first broken link (exit 1 when "
      "broken)");
  OnRun(verify, action, [&ctl] { return Verify(ctl); });
}

}  // namespace sallyport::cli
