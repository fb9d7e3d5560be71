// `record: never` (issue 11 role field `record`) with the real CA and
// gateway binaries, OpenSSH and sshd: a session under a role that says
// never leaves no recording (nothing spooled, nothing shipped, not in
// `spctl sessions ls`), while its audit events (session start/end, channel
// open/close, the command line) reach the CA as for any session; a session
// under `always` in the same run is recorded and shipped.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class RecordNeverE2eTest : public ShippingGatewayTest {
 protected:
  BastionFixture::Options Options() override {
    BastionFixture::Options o = BastionFixture::DefaultOptions();
    admin::v1::Role never;
    never.set_name("unrecorded");
    never.add_logins(CurrentUserName());
    (*never.add_hosts()->mutable_labels())["env"] = "dev";
    never.add_channels("shell");
    never.add_channels("exec");
    never.set_record("never");
    o.roles.push_back(never);
    o.users.push_back({"nora", {"unrecorded"}});
    return o;
  }

  // The session id of the first audit event containing `needle`, and the
  // types of that session's events in log order (`spctl audit ls --json`).
  struct SessionEvents {
    std::string id;
    std::vector<std::string> types;
  };
  SessionEvents EventsOf(const std::string& needle) {
    SessionEvents out;
    RunResult r = Spctl(env_->fixture(), {"audit", "ls", "--json"});
    EXPECT_TRUE(r.ok()) << r.Describe();
    std::vector<std::string> lines =
        absl::StrSplit(r.out, '\n', absl::SkipEmpty());
    auto value = [](const std::string& line, const std::string& key) {
      const std::string k = absl::StrCat("\"", key, "\":\"");
      size_t at = line.find(k);
      if (at == std::string::npos) return std::string();
      at += k.size();
      return line.substr(at, line.find('"', at) - at);
    };
    for (const std::string& e : lines) {
      if (absl::StrContains(e, needle)) {
        out.id = value(e, "session_id");
        if (!out.id.empty()) break;
      }
    }
    if (out.id.empty()) return out;
    for (const std::string& e : lines) {
      if (value(e, "session_id") == out.id)
        out.types.push_back(value(e, "type"));
    }
    return out;
  }

  // Waits (up to 90 s) until the events of the session whose command line
  // contains `marker` include session.end.
  SessionEvents WaitEnded(const std::string& marker) {
    SessionEvents ev;
    const absl::Time deadline = absl::Now() + absl::Seconds(90);
    while (absl::Now() < deadline) {
      ev = EventsOf(marker);
      for (const std::string& t : ev.types) {
        if (t == "session.end") return ev;
      }
      absl::SleepFor(absl::Seconds(1));
    }
    return ev;
  }
};

bool Has(const std::vector<std::string>& v, const std::string& s) {
  for (const std::string& x : v) {
    if (x == s) return true;
  }
  return false;
}

TEST_F(RecordNeverE2eTest, ANeverSessionLeavesNoRecordingButItsEvents) {
  const std::string tag = absl::StrCat(absl::ToUnixNanos(absl::Now()));
  const std::string never_cmd = absl::StrCat("echo never-", tag, "-$((6*7))");
  const std::string always_cmd = absl::StrCat("echo always-", tag, "-$((6*7))");
  std::vector<std::string> argv = env_->Ssh("nora", "web01");
  argv.push_back(never_cmd);
  RunResult r = GatewayE2eEnv::Run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << Logs();
  EXPECT_EQ(r.out, absl::StrCat("never-", tag, "-42\n"));
  argv = env_->Ssh("alice", "web01");
  argv.push_back(always_cmd);
  r = GatewayE2eEnv::Run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << Logs();
  EXPECT_EQ(r.out, absl::StrCat("always-", tag, "-42\n"));

  // alice's session (dev: record always) is shipped, and then the spool is
  // empty: nora's session left nothing behind either.
  std::optional<StoredRecording> recorded;
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (absl::Now() < deadline) {
    recorded = FindStoredRecording(store_url_, always_cmd);
    if (recorded && recorded->has_end && SpoolFiles(spool_dir_).empty()) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_TRUE(recorded.has_value()) << Logs();
  EXPECT_EQ(recorded->output, absl::StrCat("always-", tag, "-42\n"));
  EXPECT_TRUE(SpoolFiles(spool_dir_).empty())
      << absl::StrJoin(SpoolFiles(spool_dir_), " ") << Logs();
  EXPECT_FALSE(FindStoredRecording(store_url_, never_cmd).has_value())
      << Logs();

  // Both sessions' audit events are at the CA; only alice's has a
  // recording.
  SessionEvents never_ev = WaitEnded(absl::StrCat("never-", tag));
  ASSERT_FALSE(never_ev.id.empty()) << Logs();
  const std::string never_types = absl::StrJoin(never_ev.types, " ");
  for (const char* want :
       {"session.start", "channel.open", "channel.close", "session.end"}) {
    EXPECT_TRUE(Has(never_ev.types, want)) << want << ": " << never_types;
  }
  EXPECT_FALSE(Has(never_ev.types, "recording.started")) << never_types;
  SessionEvents always_ev = WaitEnded(absl::StrCat("always-", tag));
  ASSERT_FALSE(always_ev.id.empty()) << Logs();
  EXPECT_TRUE(Has(always_ev.types, "recording.started"))
      << absl::StrJoin(always_ev.types, " ");
  EXPECT_EQ(always_ev.id, recorded->session.id);

  RunResult ls = Spctl(env_->fixture(), {"sessions", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_TRUE(absl::StrContains(ls.out, always_ev.id)) << ls.out;
  EXPECT_FALSE(absl::StrContains(ls.out, never_ev.id)) << ls.out;
  // hyg item 2: the shipped session's BYTES_OUT is its output, not 0.
  const std::string out_bytes =
      absl::StrCat(absl::StrCat("always-", tag, "-42\n").size());
  EXPECT_EQ(recorded->session.bytes_out, std::stoll(out_bytes)) << Logs();
  bool line_found = false;
  for (absl::string_view line : absl::StrSplit(ls.out, '\n')) {
    if (!absl::StrContains(line, always_ev.id)) continue;
    line_found = true;
    std::vector<std::string> cols =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    ASSERT_FALSE(cols.empty());
    EXPECT_EQ(cols.back(), out_bytes) << ls.out;  // BYTES_OUT, the last
  }
  EXPECT_TRUE(line_found) << ls.out;
}

}  // namespace
}  // namespace sallyport::testing
