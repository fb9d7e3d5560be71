// The gateway's rules for what a user's channels may ask (issue 12), with
// gateway_test's fixture (real CA, sshd and clients; see
// gateway_test_fixture.h): the per-connection authorization cache and its
// limit, the limit of requests queued behind an authorization, and the
// certificate's say over pty, X11 and the command.
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/source_relay.h"
#include "gateway/gateway_test_fixture.h"
#include "gateway/proxy.h"
#include "gtest/gtest.h"
#include "ssh/connection/messages.h"
#include "ssh/wire/writer.h"
#include "tests/harness/echo_server.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using ssh::session::Channel;
using ssh::session::Session;
using testing::RunResult;

// Whether one line of `log` contains every one of `parts`.
bool HasLineWith(const std::string& log,
                 const std::vector<std::string>& parts) {
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = true;
    for (const std::string& p : parts) all &= absl::StrContains(line, p);
    if (all) return true;
  }
  return false;
}

class ChannelRulesTest : public GatewayTest {
 protected:
  void SetUp() override {
    extra_kinds_ = {storage::ChannelKind::kPortForward,
                    storage::ChannelKind::kAgentForward};
    GatewayTest::SetUp();
  }
};

// Our client opening direct-tcpip channels to `destinations`, one after
// the other (each closed once open), then disconnecting; notes each
// answer.
class Forwards : public ssh::session::SessionHandler {
 public:
  struct Answer {
    bool opened = false;
    std::string description;  // the refusal's
  };

  explicit Forwards(std::vector<std::pair<std::string, uint32_t>> destinations)
      : destinations_(std::move(destinations)) {}

  const std::vector<Answer>& answers() const { return answers_; }

  void OnAuthenticated(Session& s) override {
    session_ = &s;
    OpenNext();
  }
  void OnChannelOpenResult(Channel ch,
                           const ssh::connection::OpenResult& r) override {
    answers_.push_back({r.ok(), r.description});
    if (r.ok()) (void)ch.Close();
    OpenNext();
  }
  void OnData(Channel ch, uint32_t, ssh::wire::Bytes data) override {
    ch.Consume(data.size());
  }

 private:
  void OpenNext() {
    if (answers_.size() == destinations_.size()) {
      session_->Disconnect("done");
      return;
    }
    const auto& [host, port] = destinations_[answers_.size()];
    if (absl::Status st = OpenDirectTcpip(*session_, host, port); !st.ok()) {
      ADD_FAILURE() << st;
      session_->Disconnect("cannot open");
    }
  }

  std::vector<std::pair<std::string, uint32_t>> destinations_;
  std::vector<Answer> answers_;
  Session* session_ = nullptr;
};

TEST_F(ChannelRulesTest, ARepeatedForwardIsAnsweredFromTheCache) {
  testing::EchoServer one, two;
  ASSERT_NE(one.port(), 0);
  ASSERT_NE(two.port(), 0);
  const uint64_t before = AuthorizeChannelCalls();
  Forwards client({{"127.0.0.1", one.port()},
                   {"127.0.0.1", one.port()},
                   {"127.0.0.1", two.port()}});
  LoginResult run = RunOurClient(login_ + "+web01", client);
  ASSERT_TRUE(run.authenticated) << run.banner << GatewayLog();
  ASSERT_EQ(client.answers().size(), 3u) << GatewayLog();
  for (const Forwards::Answer& a : client.answers()) {
    EXPECT_TRUE(a.opened) << a.description;
  }
  // One call per destination: the second channel to `one` was decided by
  // the first one's answer.
  EXPECT_EQ(AuthorizeChannelCalls() - before, 2u) << GatewayLog();
}

// A role that allows port forwarding (so the certificate permits it) but
// a deny rule refuses it everywhere: every forward is a CA decision
// (refused), nothing is connected to.
class AuthorizationCacheLimitTest : public ChannelRulesTest {
 protected:
  void SetUp() override {
    ChannelRulesTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<storage::Role> ops = env_->store().GetRole("ops");
    ASSERT_TRUE(ops.ok()) << ops.status();
    storage::DenyRule no_forwards;
    no_forwards.channels = {storage::ChannelKind::kPortForward};
    ops->deny.push_back(no_forwards);
    ASSERT_TRUE(env_->store().UpdateRole(*ops).ok());
  }
};

TEST_F(AuthorizationCacheLimitTest, NewAnswersAreNotKeptPastTheLimit) {
  // kMaxCachedAuthorizations distinct destinations fill the cache; the
  // first is still answered from it; one more destination is asked of
  // the CA each time.
  std::vector<std::pair<std::string, uint32_t>> destinations;
  for (uint32_t port = 1; port <= kMaxCachedAuthorizations; ++port) {
    destinations.emplace_back("127.0.0.1", port);
  }
  const uint32_t past = kMaxCachedAuthorizations + 1;
  destinations.emplace_back("127.0.0.1", 1);
  destinations.emplace_back("127.0.0.1", past);
  destinations.emplace_back("127.0.0.1", past);
  const uint64_t before = AuthorizeChannelCalls();
  Forwards client(destinations);
  LoginResult run = RunOurClient(login_ + "+web01", client, absl::Seconds(120));
  ASSERT_TRUE(run.authenticated) << run.banner;
  ASSERT_EQ(client.answers().size(), destinations.size()) << GatewayLog();
  // Every answer, from the CA or the cache, is the CA's refusal.
  for (const Forwards::Answer& a : client.answers()) {
    EXPECT_FALSE(a.opened);
    EXPECT_TRUE(absl::StrContains(a.description, "denied by role 'ops'"))
        << a.description;
  }
  EXPECT_EQ(AuthorizeChannelCalls() - before, kMaxCachedAuthorizations + 2);
}

// A request our client sends: its type and data.
struct Filler {
  std::string type;
  std::vector<uint8_t> data;
};

// `n` window-change requests, the last of 100 columns, the others of 80.
std::vector<Filler> WindowChanges(size_t n) {
  std::vector<Filler> out;
  for (size_t i = 0; i < n; ++i) {
    ssh::wire::Writer size;
    for (uint32_t v : {i + 1 == n ? 100u : 80u, 24u, 0u, 0u}) size.Uint32(v);
    out.push_back(Filler{"window-change", size.data()});
  }
  return out;
}

// `n` requests that each take a place in the queue: signals (a
// window-change behind another one replaces it).
std::vector<Filler> Signals(size_t n) {
  ssh::wire::Writer name;
  name.String("USR1");
  return std::vector<Filler>(n, Filler{"signal", name.data()});
}

// Requests of a type the gateway refuses ("x-filler") whose type and data
// are `sizes` bytes.
std::vector<Filler> FillersOfBytes(const std::vector<size_t>& sizes) {
  const std::string type = "x-filler";
  std::vector<Filler> out;
  for (size_t n : sizes) {
    out.push_back(Filler{type, std::vector<uint8_t>(n - type.size(), 'f')});
  }
  return out;
}

// Our client on one session channel: auth-agent-req@openssh.com (which the
// CA decides: the channel's requests wait for the answer), the `fillers`
// and an exec of `echo alive`, all sent at once. The CA's answers are held
// back (`ca_relay` frozen) while they are sent and for kHoldCa after, so
// the gateway has them all queued before the answer comes, however slowly
// a loaded machine reads them. Notes the output, stderr and exit status;
// disconnects when the channel closed.
class QueuedRequests : public SessionChannelClient {
 public:
  // The exec's bytes in the gateway's queue (type and data).
  static constexpr size_t kExecBytes = 4 + 4 + 10;  // "exec", "echo alive"
  static constexpr absl::Duration kHoldCa = absl::Seconds(1);

  QueuedRequests(std::vector<Filler> fillers, ca::SourceRelay* ca_relay)
      : fillers_(std::move(fillers)), ca_relay_(ca_relay) {}
  ~QueuedRequests() override {
    if (thaw_.joinable()) thaw_.join();
  }

 private:
  void OnSessionOpen(Channel ch) override {
    ca_relay_->Freeze();
    thaw_ = std::thread([relay = ca_relay_] {
      absl::SleepFor(kHoldCa);
      relay->Thaw();
    });
    (void)ch.SendRequest("auth-agent-req@openssh.com", false);
    for (const Filler& f : fillers_) {
      absl::Status st = ch.SendRequest(f.type, false, f.data);
      EXPECT_TRUE(st.ok()) << st;
    }
    Exec(ch, "echo alive", /*want_reply=*/true);
    (void)ch.SendEof();
  }

  std::vector<Filler> fillers_;
  ca::SourceRelay* ca_relay_;
  std::thread thaw_;
};

// The gateway reaches the CA through a relay QueuedRequests freezes.
class QueuedRequestsTest : public ChannelRulesTest {
 protected:
  void SetUp() override {
    relay_ca_ = true;
    ChannelRulesTest::SetUp();
  }
};

TEST_F(QueuedRequestsTest, RequestsQueuedBehindAnAuthorizationStopAtTheLimit) {
  const size_t limit = ProxyLimits{}.max_queued_requests;
  // At the limit (the fillers and the exec): all of them are handled.
  QueuedRequests at(Signals(limit - 1), ca_relay_.get());
  LoginResult run = RunOurClient(login_ + "+web01", at);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(at.out, "alive\n") << at.err << GatewayLog();
  EXPECT_EQ(at.exit_status, std::optional<uint32_t>(0)) << at.err;
  // One more: the channel is closed and says why; the exec never runs.
  QueuedRequests over(Signals(limit), ca_relay_.get());
  run = RunOurClient(login_ + "+web01", over);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(over.out, "") << GatewayLog();
  EXPECT_FALSE(over.exit_status.has_value());
  EXPECT_TRUE(absl::StrContains(over.err, "too many queued channel requests"))
      << over.err << GatewayLog();
}

// Found by a red-team run: a burst of window-changes (a terminal resized
// by dragging) filled the queue and closed the channel. Queued behind one
// another they are one: 4x the limit of them, and the exec runs; the
// recording has the last size.
TEST_F(QueuedRequestsTest, WindowChangesQueuedTogetherAreOne) {
  const size_t limit = ProxyLimits{}.max_queued_requests;
  QueuedRequests burst(WindowChanges(4 * limit), ca_relay_.get());
  LoginResult run = RunOurClient(login_ + "+web01", burst);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(burst.out, "alive\n") << burst.err << GatewayLog();
  EXPECT_EQ(burst.exit_status, std::optional<uint32_t>(0)) << burst.err;
  size_t sizes = 0;
  bool last = false;
  for (const auto& e : recorder_.events()) {
    if (e.kind != "window") continue;
    ++sizes;
    last = e.columns == 100;
  }
  EXPECT_TRUE(last);
  EXPECT_LT(sizes, limit);
}

TEST_F(QueuedRequestsTest,
       RequestBytesQueuedBehindAnAuthorizationStopAtTheLimit) {
  // Four fillers and the exec, kMaxQueuedRequestBytes together: all of
  // them are handled.
  const size_t fillers = kMaxQueuedRequestBytes - QueuedRequests::kExecBytes;
  const size_t each = fillers / 4;
  std::vector<size_t> sizes = {each, each, each, fillers - 3 * each};
  QueuedRequests at(FillersOfBytes(sizes), ca_relay_.get());
  LoginResult run = RunOurClient(login_ + "+web01", at);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(at.out, "alive\n") << at.err << GatewayLog();
  EXPECT_EQ(at.exit_status, std::optional<uint32_t>(0)) << at.err;
  // One byte more: the channel is closed and says why; the exec never runs.
  ++sizes.back();
  QueuedRequests over(FillersOfBytes(sizes), ca_relay_.get());
  run = RunOurClient(login_ + "+web01", over);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(over.out, "") << GatewayLog();
  EXPECT_FALSE(over.exit_status.has_value());
  EXPECT_TRUE(
      absl::StrContains(over.err, "queued channel requests exceed 256 KiB"))
      << over.err << GatewayLog();
  EXPECT_TRUE(HasLineWith(
      GatewayLog(), {"event=channel.abort", "queued channel requests exceed"}));
}

// Our client: an exec that prints "ready", sleeps and prints "alive";
// at "ready", `refused` requests of a type the gateway refuses, then EOF.
class RefusedRequests : public SessionChannelClient {
 public:
  explicit RefusedRequests(size_t refused) : refused_(refused) {}

 private:
  void OnSessionOpen(Channel ch) override {
    Exec(ch, "echo ready; sleep 1; echo alive", /*want_reply=*/true);
  }
  void OnData(Channel ch, uint32_t stream, ssh::wire::Bytes data) override {
    SessionChannelClient::OnData(ch, stream, data);
    if (sent_ || !absl::StrContains(out, "ready")) return;
    sent_ = true;
    for (size_t i = 0; i < refused_; ++i) {
      absl::Status st = ch.SendRequest("x-flood", false);
      EXPECT_TRUE(st.ok()) << st;
    }
    (void)ch.SendEof();
  }

  const size_t refused_;
  bool sent_ = false;
};

// Found by a red-team run: 2,000 refused requests on one channel made
// 2,000 audit rows in 0.16 s, and a client could go on without end. The
// first kMaxRefusalsReported of a connection are logged and audited one by
// one (the last of them says so); the rest are counted, and summed up in
// one more event when the connection ends. The session itself goes on.
TEST_F(GatewayTest, RefusalsPastTheLimitAreCountedNotAuditedOneByOne) {
  constexpr size_t kOver = 7;
  RefusedRequests client(kMaxRefusalsReported + kOver);
  LoginResult run = RunOurClient(login_ + "+web01", client);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(client.out, "ready\nalive\n") << client.err;
  EXPECT_EQ(client.exit_status, std::optional<uint32_t>(0));
  const std::vector<std::string> events =
      AuditPayloads("channel.refused", kMaxRefusalsReported + 1);
  ASSERT_EQ(events.size(), kMaxRefusalsReported + 1) << GatewayLog();
  EXPECT_TRUE(absl::StrContains(events[kMaxRefusalsReported - 1],
                                "the connection's 100th refusal"))
      << events[kMaxRefusalsReported - 1];
  EXPECT_TRUE(absl::StrContains(events.back(), "\"kind\":\"*\""))
      << events.back();
  EXPECT_TRUE(absl::StrContains(events.back(), "\"unreported\":7"))
      << events.back();
  const std::string log = GatewayLog();
  const std::vector<std::string> parts =
      absl::StrSplit(log, "event=channel.refused");
  EXPECT_EQ(parts.size() - 1, kMaxRefusalsReported + 1) << log;
  EXPECT_TRUE(HasLineWith(log, {"event=channel.refused", "kind=\"*\"",
                                "7 more refusals on this connection"}))
      << log;
}

// Our client: the pty-reqs `modes` (one per entry), then an exec of `tty`.
class PtyRequests : public SessionChannelClient {
 public:
  explicit PtyRequests(std::vector<std::string> modes)
      : modes_(std::move(modes)) {}

 private:
  void OnSessionOpen(Channel ch) override {
    for (const std::string& m : modes_) {
      ssh::connection::PtyRequest pty{"xterm", 80, 24, 0, 0, m};
      absl::Status st = ch.SendRequest("pty-req", false, pty.Serialize());
      EXPECT_TRUE(st.ok()) << st;
    }
    Exec(ch, "tty; echo done", /*want_reply=*/true);
    (void)ch.SendEof();
  }

  const std::vector<std::string> modes_;
};

// Found by a red-team run: a second pty-req, or terminal modes cut short,
// went to the host, whose sshd then ended the whole connection (every
// channel of the user's session to it), and the gateway said only that
// the connection to the host ended. The gateway refuses both itself; the
// channel goes on.
TEST_F(GatewayTest, ASecondPtyOrModesCutShortAreRefusedAndTheChannelGoesOn) {
  const std::string vintr_ctrl_c("\x01\0\0\0\x03\0", 6);
  PtyRequests twice({vintr_ctrl_c, vintr_ctrl_c});
  LoginResult run = RunOurClient(login_ + "+web01", twice);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_TRUE(absl::StartsWith(twice.out, "/dev/pts/")) << twice.out;
  EXPECT_TRUE(absl::StrContains(twice.out, "done")) << twice.out;
  EXPECT_TRUE(HasLineWith(GatewayLog(),
                          {"event=channel.refused", "kind=\"pty-req\"",
                           "a pty was already requested on this channel"}))
      << GatewayLog();
  PtyRequests cut({std::string("\x01\x00\x00", 3)});
  run = RunOurClient(login_ + "+web01", cut);
  ASSERT_TRUE(run.authenticated) << run.banner;
  EXPECT_EQ(cut.out, "not a tty\ndone\n");
  EXPECT_TRUE(HasLineWith(
      GatewayLog(), {"event=channel.refused", "kind=\"pty-req\"",
                     "malformed pty-req: terminal mode 1 without its 4-byte"}))
      << GatewayLog();
  EXPECT_FALSE(absl::StrContains(sshd_->Log(), "parse")) << sshd_->Log();
}

// Stock ssh asks for X11 forwarding (-Y, with a DISPLAY and no xauth: fake
// credentials): the gateway refuses it itself, the host never sees the
// request, and the command runs without a DISPLAY. The user is told why
// (ssh itself only says the request failed).
TEST_F(GatewayTest, X11ForwardingIsRefused) {
  testing::RunOptions ro;
  ro.env["DISPLAY"] = "127.0.0.1:55";
  absl::StatusOr<RunResult> r =
      testing::RunCommand(SshArgs(login_ + "+web01", "echo display=[$DISPLAY]",
                                  {"-Y", "-o", "XAuthLocation=/nonexistent"}),
                          ro);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "display=[]\n");
  EXPECT_TRUE(absl::StrContains(
      r->err, "sallyport: X11 forwarding is not allowed through Sallyport"))
      << r->err;
  const std::string log = GatewayLog();
  EXPECT_TRUE(HasLineWith(
      log, {"event=channel.refused", "kind=\"x11-req\"", "is not allowed"}))
      << log;
  EXPECT_FALSE(absl::StrContains(sshd_->Log(), "x11-req")) << sshd_->Log();
}

// A certificate without permit-pty: the gateway refuses the pty itself
// (stock ssh -tt then gives up), the host never sees the request.
TEST_F(GatewayTest, NoPermitPtyInTheCertificateMeansNoPty) {
  SignAliceCertificate({"-O", "no-pty"});
  RunResult r = Ssh(login_ + "+web01", "tty", {"-tt"});
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "PTY allocation request failed"))
      << r.Describe();
  const std::string log = GatewayLog();
  EXPECT_TRUE(HasLineWith(log, {"event=channel.refused", "kind=\"pty-req\"",
                                "your certificate does not permit a pty"}))
      << log;
  EXPECT_FALSE(absl::StrContains(sshd_->Log(), "pty-req")) << sshd_->Log();
  for (const auto& e : recorder_.events()) {
    EXPECT_NE(e.bytes, "pty-req");
  }
}

// A certificate with force-command: that command runs instead of the one
// the user asked for, and the recording says so.
TEST_F(GatewayTest, TheCertificatesForceCommandRunsInsteadOfTheRequested) {
  SignAliceCertificate({"-O", "force-command=echo forced-$((6*7))"});
  RunResult r = Ssh(login_ + "+web01", "echo requested");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "forced-42\n") << r.Describe();
  bool recorded = false;
  for (const auto& e : recorder_.events()) {
    EXPECT_NE(e.summary, "echo requested");
    recorded |= e.kind == "request" && e.bytes == "exec" &&
                e.summary == "echo forced-$((6*7))";
  }
  EXPECT_TRUE(recorded);
}

// A role's force_command (issue 12: "force-command from a role or the
// certificate replaces shell/exec/subsystem"): the gateway runs it instead
// of the exec and of the sftp subsystem, the recording says so, and the
// session certificate carries it, so sshd forces it too (sshd sets
// SSH_ORIGINAL_COMMAND only for a forced command).
TEST_F(GatewayTest, ARolesForceCommandRunsInsteadOfTheRequested) {
  const std::string forced = "echo \"role-forced [$SSH_ORIGINAL_COMMAND]\"";
  absl::StatusOr<storage::Role> ops = env_->store().GetRole("ops");
  ASSERT_TRUE(ops.ok()) << ops.status();
  ops->force_command = forced;
  ASSERT_TRUE(env_->store().UpdateRole(*ops).ok());
  const std::string expected = absl::StrCat("role-forced [", forced, "]\n");
  RunResult r = Ssh(login_ + "+web01", "echo requested");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, expected) << r.Describe();
  r = Ssh(login_ + "+web01", "sftp", {"-s"});
  EXPECT_EQ(r.out, expected) << r.Describe();
  int recorded = 0;
  for (const auto& e : recorder_.events()) {
    EXPECT_NE(e.summary, "echo requested");
    recorded += e.kind == "request" && e.bytes == "exec" && e.summary == forced;
  }
  EXPECT_EQ(recorded, 2);
  EXPECT_TRUE(HasLineWith(GatewayLog(),
                          {"event=channel.start", "kind=sftp", "role-forced"}))
      << GatewayLog();
  // What the user asked for reaches the host only as the forced command's
  // text, but is audited (it was nowhere): exec.command says what ran and
  // what was asked for, for the exec and for the subsystem.
  const std::vector<std::string> events = AuditPayloads("exec.command", 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(absl::StrContains(
      events[0],
      "\"requested_type\":\"exec\",\"requested\":\"echo requested\""))
      << events[0];
  EXPECT_TRUE(absl::StrContains(
      events[1], "\"requested_type\":\"subsystem\",\"requested\":\"sftp\""))
      << events[1];
  EXPECT_TRUE(HasLineWith(GatewayLog(),
                          {"event=channel.start", "forced=true",
                           "requested_type=exec requested=", "echo requested"}))
      << GatewayLog();
}

// The certificate and a role forcing different commands: neither runs,
// and the user is told why.
TEST_F(GatewayTest, DifferentForcedCommandsOfCertificateAndRoleAreRefused) {
  SignAliceCertificate({"-O", "force-command=echo from-the-certificate"});
  absl::StatusOr<storage::Role> ops = env_->store().GetRole("ops");
  ASSERT_TRUE(ops.ok()) << ops.status();
  ops->force_command = "echo from-the-role";
  ASSERT_TRUE(env_->store().UpdateRole(*ops).ok());
  RunResult r = Ssh(login_ + "+web01", "echo requested");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "force different commands"))
      << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "from-the")) << r.Describe();
  // The same command from both is no conflict.
  ops->force_command = "echo from-the-certificate";
  ASSERT_TRUE(env_->store().UpdateRole(*ops).ok());
  r = Ssh(login_ + "+web01", "echo requested");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "from-the-certificate\n") << r.Describe();
}

}  // namespace
}  // namespace sallyport::gateway
