// The gateway's audit events (issue 14 "Events") with the real
// sallyport-gateway and sallyport-ca binaries, OpenSSH and sshd: a session's
// events (start, channel, recording, exec command line, port forward with
// destination and bytes, file transfer, end) reach the CA's hash-chained
// log, where `spctl audit ls` shows them and `spctl audit verify` finds the
// chain intact; events of a session that ends while the CA is down are
// queued and arrive once it is back.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class GatewayEventsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> env = GatewayE2eEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }

  // spctl as the admin (roles admin + login).
  RunResult Spctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"setsid", "-w", RunfilePath("cli/spctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.env["SALLYPORT_HOME"] = (*env_->fixture().user("admin"))->home;
    o.timeout = absl::Seconds(120);
    absl::StatusOr<RunResult> r = RunCommand(argv, o);
    return r.ok() ? *r : RunResult();
  }

  // `spctl audit ls --json`: one JSON object per event.
  std::vector<std::string> Events() {
    RunResult r = Spctl({"audit", "ls", "--json"});
    EXPECT_TRUE(r.ok()) << r.Describe();
    std::vector<std::string> out;
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      if (!line.empty()) out.emplace_back(line);
    }
    return out;
  }

  // The session id of the first event containing `needle`, waiting up to
  // `limit` for it.
  std::string SessionOf(const std::string& needle,
                        absl::Duration limit = absl::Seconds(90)) {
    const absl::Time end = absl::Now() + limit;
    do {
      for (const std::string& e : Events()) {
        if (!absl::StrContains(e, needle)) continue;
        const std::string key = "\"session_id\":\"";
        size_t at = e.find(key);
        if (at == std::string::npos) continue;
        at += key.size();
        return e.substr(at, e.find('"', at) - at);
      }
      absl::SleepFor(absl::Seconds(1));
    } while (absl::Now() < end);
    return "";
  }

  // The types of the session's events, in log order.
  std::vector<std::string> TypesOf(const std::string& session) {
    std::vector<std::string> types;
    for (const std::string& e : Events()) {
      if (!absl::StrContains(
              e, absl::StrCat("\"session_id\":\"", session, "\""))) {
        continue;
      }
      const std::string key = "\"type\":\"";
      size_t at = e.find(key) + key.size();
      types.push_back(e.substr(at, e.find('"', at) - at));
    }
    return types;
  }

  // Waits until the session's events include `type`.
  bool WaitForType(const std::string& session, const std::string& type,
                   absl::Duration limit = absl::Seconds(90)) {
    const absl::Time end = absl::Now() + limit;
    do {
      for (const std::string& t : TypesOf(session)) {
        if (t == type) return true;
      }
      absl::SleepFor(absl::Seconds(1));
    } while (absl::Now() < end);
    return false;
  }

  std::unique_ptr<GatewayE2eEnv> env_;
};

TEST_F(GatewayEventsE2eTest, ASessionsEventsAreInTheVerifiedChain) {
  const std::string marker =
      absl::StrCat("events-", absl::ToUnixNanos(absl::Now()));
  // An exec session.
  std::vector<std::string> argv = env_->Ssh("olivia", "web01");
  argv.push_back(absl::StrCat("echo ", marker, "; exit 7"));
  RunResult r = GatewayE2eEnv::Run(argv);
  ASSERT_EQ(r.exit_code, 7) << r.Describe() << env_->fixture().GatewayLog();
  ASSERT_EQ(r.out, marker + "\n");
  // A port forward (ssh -W through the recorded session).
  EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  const std::string destination = absl::StrCat("127.0.0.1:", echo.port());
  RunOptions with_input;
  with_input.stdin_data = "hello\n";
  r = GatewayE2eEnv::Run(env_->Ssh("olivia", "web01", {"-W", destination}),
                         with_input);
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << env_->fixture().GatewayLog();
  EXPECT_EQ(r.out, "hello\n");
  // A legacy scp upload (scp -t on the host).
  const std::string local = env_->File("up-local");
  ASSERT_TRUE(GatewayE2eEnv::RandomFile(local, 4096).ok());
  r = GatewayE2eEnv::Run({"scp", "-F", env_->SshConfig("olivia"), "-O", local,
                          absl::StrCat(env_->GatewayUser("web01"),
                                       "@gateway:", env_->File("up-remote"))});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();

  // The exec session: start, channel, recording, command, close, end.
  const std::string session = SessionOf(absl::StrCat("echo ", marker));
  ASSERT_FALSE(session.empty())
      << env_->fixture().GatewayLog() << env_->fixture().CaLog();
  ASSERT_TRUE(WaitForType(session, "session.end"))
      << absl::StrJoin(TypesOf(session), " ");
  std::vector<std::string> types = TypesOf(session);
  const std::vector<std::string> want = {"session.start", "channel.open",
                                         "exec.command", "channel.close",
                                         "session.end"};
  size_t next = 0;
  for (const std::string& t : types) {
    if (next < want.size() && t == want[next]) ++next;
  }
  EXPECT_EQ(next, want.size()) << absl::StrJoin(types, " ");
  // The close says how the command ended (found by hand: an Ansible task
  // that failed was a failure only in the recording, not in the audit
  // log that a SIEM reads).
  bool exit_seen = false;
  for (const std::string& e : Events()) {
    if (absl::StrContains(e, "\"type\":\"channel.close\"") &&
        absl::StrContains(e, session)) {
      exit_seen = absl::StrContains(e, "\"exit_status\":7");
      EXPECT_TRUE(exit_seen) << e;
    }
  }
  EXPECT_TRUE(exit_seen);
  EXPECT_NE(std::find(types.begin(), types.end(), "recording.started"),
            types.end())
      << absl::StrJoin(types, " ");
  // The shipper's event, once the CA has the whole recording (pol, #14).
  EXPECT_TRUE(WaitForType(session, "recording.complete"))
      << absl::StrJoin(TypesOf(session), " ") << env_->fixture().GatewayLog();

  // The port forward, with its destination and bytes.
  const std::string forward = SessionOf("\"type\":\"portforward.close\"");
  ASSERT_FALSE(forward.empty());
  bool open_seen = false, close_seen = false;
  for (const std::string& e : Events()) {
    if (absl::StrContains(e, "\"type\":\"portforward.open\"") &&
        absl::StrContains(e, destination)) {
      open_seen = true;
    }
    if (absl::StrContains(e, "\"type\":\"portforward.close\"") &&
        absl::StrContains(e, destination)) {
      close_seen = absl::StrContains(e, "\"bytes_in\":6") &&
                   absl::StrContains(e, "\"bytes_out\":6");
      EXPECT_TRUE(close_seen) << e;
    }
  }
  EXPECT_TRUE(open_seen);
  EXPECT_TRUE(close_seen);

  // The scp upload.
  const std::string scp = SessionOf("\"type\":\"filetransfer.start\"");
  ASSERT_FALSE(scp.empty());
  bool upload = false;
  for (const std::string& e : Events()) {
    upload |= absl::StrContains(e, "\"type\":\"filetransfer.start\"") &&
              absl::StrContains(e, "\"protocol\":\"scp\"") &&
              absl::StrContains(e, "\"direction\":\"upload\"") &&
              absl::StrContains(e, "\"gateway\":\"sallyport-gw\"");
  }
  EXPECT_TRUE(upload);

  // `spctl audit ls` (the table) names them too, and the chain verifies.
  RunResult ls = Spctl({"audit", "ls"});
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  EXPECT_TRUE(absl::StrContains(ls.out, "exec.command")) << ls.out;
  EXPECT_TRUE(absl::StrContains(ls.out, "session.end")) << ls.out;
  RunResult verify = Spctl({"audit", "verify"});
  EXPECT_TRUE(verify.ok()) << verify.Describe();
  EXPECT_TRUE(absl::StrContains(verify.out, "chain intact")) << verify.out;
}

// A remote forward (ssh -R): the grant (portforward.listen) and each
// connection through it (portforward.open/close, direction remote, with
// its bytes) are audit events like a local forward's; before, only the
// gateway's own log had the grant and the CA's log had nothing at all.
TEST_F(GatewayEventsE2eTest, ARemoteForwardIsAudited) {
  EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  auto rport = FreeLoopbackPort();
  ASSERT_TRUE(rport.ok()) << rport.status();
  BackgroundProcess::Options o;
  o.log_path = env_->File("ssh_r.log");
  auto ssh = BackgroundProcess::Start(
      env_->Ssh("olivia", "web01",
                {"-N", "-R", absl::StrCat(*rport, ":127.0.0.1:", echo.port())}),
      o);
  ASSERT_TRUE(ssh.ok()) << ssh.status();
  // A connection to the port on the host comes back to the user's side.
  ASSERT_TRUE(EchoesThrough(*rport, "back\n"))
      << ReadFileOrEmpty(o.log_path) << env_->fixture().GatewayLog();
  const std::string listen = absl::StrCat(":", *rport, "\"");
  const std::string session = SessionOf("\"type\":\"portforward.listen\"");
  ASSERT_FALSE(session.empty()) << env_->fixture().GatewayLog();
  ASSERT_TRUE(WaitForType(session, "portforward.close"))
      << absl::StrJoin(TypesOf(session), " ");
  bool listen_seen = false, open_seen = false, close_seen = false;
  for (const std::string& e : Events()) {
    if (!absl::StrContains(e, session)) continue;
    listen_seen |= absl::StrContains(e, "\"type\":\"portforward.listen\"") &&
                   absl::StrContains(e, listen) &&
                   absl::StrContains(e, "\"host\":\"web01\"");
    open_seen |= absl::StrContains(e, "\"type\":\"portforward.open\"") &&
                 absl::StrContains(e, "\"direction\":\"remote\"") &&
                 absl::StrContains(e, listen);
    if (absl::StrContains(e, "\"type\":\"portforward.close\"")) {
      close_seen = absl::StrContains(e, "\"direction\":\"remote\"") &&
                   absl::StrContains(e, "\"bytes_in\":5") &&
                   absl::StrContains(e, "\"bytes_out\":5");
      EXPECT_TRUE(close_seen) << e;
    }
  }
  EXPECT_TRUE(listen_seen) << absl::StrJoin(TypesOf(session), " ");
  EXPECT_TRUE(open_seen) << absl::StrJoin(TypesOf(session), " ");
  EXPECT_TRUE(close_seen);
}

// The CA stops while a session runs: the session's last events wait in the
// gateway's queue (the gateway log says so) and reach the log once the CA
// is back, in a chain that still verifies.
TEST_F(GatewayEventsE2eTest, EventsQueuedWhileTheCaIsDownArriveAfterwards) {
  const std::string marker =
      absl::StrCat("ca-down-", absl::ToUnixNanos(absl::Now()));
  const std::string command = absl::StrCat("sleep 6; echo ", marker);
  std::vector<std::string> argv = env_->Ssh("olivia", "web01");
  argv.push_back(command);
  BackgroundProcess::Options po;
  po.log_path = env_->File("client.log");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> client =
      BackgroundProcess::Start(argv, po);
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string session = SessionOf(command);
  ASSERT_FALSE(session.empty()) << env_->fixture().GatewayLog();

  // Stop the CA; the command goes on and the session ends meanwhile.
  const uint16_t ca_port =
      static_cast<uint16_t>(std::stoi(env_->fixture().ca_address().substr(10)));
  env_->fixture().ca_process().Stop();
  const absl::Time client_end = absl::Now() + absl::Seconds(120);
  while ((*client)->Running() && absl::Now() < client_end) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_FALSE((*client)->Running());
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(po.log_path), marker))
      << ReadFileOrEmpty(po.log_path);
  // The gateway could not send them.
  const absl::Time log_end = absl::Now() + absl::Seconds(90);
  while (!absl::StrContains(env_->fixture().GatewayLog(),
                            "cannot send audit events to the CA") &&
         absl::Now() < log_end) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(absl::StrContains(env_->fixture().GatewayLog(),
                                "cannot send audit events to the CA"))
      << env_->fixture().GatewayLog();

  // The CA comes back on the same address.
  BackgroundProcess::Options co;
  co.log_path = env_->File("ca2.log");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> ca =
      BackgroundProcess::Start(
          {RunfilePath("ca/sallyport-ca"), "serve", "--config",
           env_->fixture().ca_state_dir() + "/ca.yaml", "--listen",
           absl::StrCat("127.0.0.1:", ca_port)},
          co);
  ASSERT_TRUE(ca.ok()) << ca.status();
  ASSERT_TRUE(WaitForTcpListener("127.0.0.1", ca_port, absl::Seconds(60)).ok())
      << ReadFileOrEmpty(co.log_path);
  ASSERT_TRUE(WaitForType(session, "session.end", absl::Seconds(180)))
      << absl::StrJoin(TypesOf(session), " ") << "\n"
      << env_->fixture().GatewayLog();
  std::vector<std::string> types = TypesOf(session);
  EXPECT_NE(std::find(types.begin(), types.end(), "channel.close"), types.end())
      << absl::StrJoin(types, " ");
  RunResult verify = Spctl({"audit", "verify"});
  EXPECT_TRUE(verify.ok()) << verify.Describe();
  EXPECT_TRUE(absl::StrContains(env_->fixture().GatewayLog(),
                                "the CA takes audit events again"))
      << env_->fixture().GatewayLog();
}

}  // namespace
}  // namespace sallyport::testing
