// Recording policy with the real gateway binary, OpenSSH and sshd (issue
// 14): per role `record_mode: strict | best_effort` and `record_input`.
// The gateway runs in its own mount namespace (unshare -m) with a small
// tmpfs on its spool directory, so the test can fill it or make it
// read-only (nsenter) without touching this machine's mounts; the spool
// is read through /proc/PID/root.
//   - spool filesystem full: a strict session ends with the reason, a
//     best_effort one goes on (every byte reaches the client), a new
//     strict session is refused with the reason, a new best_effort one
//     runs unrecorded; what was spooled before stays readable with its
//     chain, and the strict client got no byte the spool lacks;
//   - spool read-only: new strict sessions refused, best_effort run;
//   - record_input: true records typed input of an exec without a pty,
//     false records none of a pty session, the default records a pty
//     session's input and not an exec's.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "audit/recording_record.h"
#include "audit/spool.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

namespace v1 = ::sallyport::audit::v1;

admin::v1::Role DevRole(const std::string& name) {
  admin::v1::Role r;
  r.set_name(name);
  r.add_logins(CurrentUserName());
  (*r.add_hosts()->mutable_labels())["env"] = "dev";
  r.add_channels("shell");
  r.add_channels("exec");
  return r;
}

// What the spools hold for the exec channel running `command`.
struct Recorded {
  bool found = false;
  bool ended = false;
  std::string output;  // stdout
  std::string input;   // every input data record
  size_t input_records = 0;
  uint64_t torn_bytes = 0;
  absl::Status read_error;  // a spool that does not read (bad chain)
};

class RecordingPolicyE2eTest : public ::testing::Test {
 protected:
  // Fixture + gateway; the gateway's spool is a tmpfs of `size`.
  void Start(const std::string& size) {
    BastionFixture::Options o = BastionFixture::DefaultOptions();
    admin::v1::Role best = DevRole("besteffort");
    best.set_record_mode("best_effort");
    admin::v1::Role on = DevRole("input-on");
    on.set_record_input(true);
    admin::v1::Role off = DevRole("input-off");
    off.set_record_input(false);
    o.roles.insert(o.roles.end(), {best, on, off});
    o.users.push_back({"erin", {"besteffort"}});
    o.users.push_back({"ines", {"input-on"}});
    o.users.push_back({"otto", {"input-off"}});
    absl::StatusOr<std::unique_ptr<BastionFixture>> f =
        BastionFixture::Start(std::move(o));
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = *std::move(f);
    absl::StatusOr<TempDir> dir = TempDir::Create("gwpol");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(*std::move(dir));
    spool_ = dir_->File("spool");
    // `serve` runs in a private mount namespace with the tmpfs mounted on
    // the spool; `enroll` as it is.
    const std::string wrapper = dir_->File("gateway.sh");
    ASSERT_TRUE(
        WriteFile(wrapper,
                  absl::StrCat(
                      "#!/bin/sh\n", "gw=",
                      ShellQuote(RunfilePath("gateway/sallyport-gateway")),
                      "\n", "spool=", ShellQuote(spool_), "\n",
                      "if [ \"$1\" != serve ]; then exec \"$gw\" \"$@\"; fi\n",
                      "mkdir -p \"$spool\"\n",
                      "exec unshare -m --propagation private sh -c "
                      "'mount -t tmpfs -o size=",
                      size,
                      ",mode=0700 tmpfs \"$0\" && exec \"$@\"' "
                      "\"$spool\" \"$gw\" \"$@\"\n"),
                  0755)
            .ok());
    fixture_->AddGatewayConfigEdit(
        [this](config::GatewayConfig& c) { c.set_spool_dir(spool_); });
    absl::Status st = fixture_->StartGateway(wrapper);
    ASSERT_TRUE(st.ok()) << st << fixture_->GatewayLog();
  }
  void TearDown() override {
    if (fixture_ != nullptr) fixture_->StopGateway();
  }

  std::vector<std::string> Ssh(const std::string& user,
                               const std::vector<std::string>& options = {}) {
    absl::StatusOr<const BastionFixture::User*> u = fixture_->user(user);
    std::vector<std::string> argv = {
        "ssh", "-F", u.ok() ? (*u)->ssh_config : "/nonexistent"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(),
                {"-l", fixture_->target_login() + "+web01", "gateway"});
    return argv;
  }
  std::string SshLine(const std::string& user, const std::string& command,
                      const std::vector<std::string>& options = {}) {
    std::vector<std::string> argv = Ssh(user, options);
    argv.push_back(command);
    return ShellJoin(argv);
  }
  // The spool as this process sees it: through the gateway's namespace.
  std::string SpoolSeen() const {
    return absl::StrCat("/proc/", fixture_->gateway_process()->pid(), "/root",
                        spool_);
  }
  // A shell command inside the gateway's mount namespace.
  RunResult InGatewayNamespace(const std::string& script) {
    return GatewayE2eEnv::Run({"nsenter", "-t",
                               absl::StrCat(fixture_->gateway_process()->pid()),
                               "-m", "--", "sh", "-c", script});
  }

  // The records of the exec channel running `command`, summed up; found
  // false when no exec of `command` is among them.
  static Recorded Summarise(const std::vector<v1::RecordingRecord>& records,
                            const std::string& command) {
    std::optional<uint32_t> channel;
    Recorded r;
    for (const v1::RecordingRecord& rec : records) {
      if (rec.has_request() && rec.request().type() == "exec" &&
          audit::RequestText(rec.request()) == command) {
        channel = rec.channel_id();
      }
      if (rec.has_session_end()) r.ended = true;
      if (!channel || rec.channel_id() != *channel || !rec.has_data()) {
        continue;
      }
      if (rec.data().direction() == v1::RECORD_DIRECTION_INPUT) {
        r.input += rec.data().bytes();
        ++r.input_records;
      } else if (rec.data().ssh_stream() == 0) {
        r.output += rec.data().bytes();
      }
    }
    r.found = channel.has_value();
    return r;
  }

  // The recording of `command`: from the gateway's spool while it is
  // there, else from the CA's store (the shipper deletes a spool once the
  // CA has all of it).
  Recorded Find(const std::string& command) {
    Recorded out;
    RunResult ls = GatewayE2eEnv::Shell(
        absl::StrCat("ls ", ShellQuote(SpoolSeen()), " | grep '\\.spool$'"));
    for (absl::string_view name : absl::StrSplit(ls.out, '\n')) {
      if (name.empty()) continue;
      absl::StatusOr<audit::SpoolContents> c =
          audit::ReadSpool(absl::StrCat(SpoolSeen(), "/", name));
      if (!c.ok()) {
        out.read_error = c.status();
        continue;
      }
      Recorded r = Summarise(c->records, command);
      if (r.found) {
        r.torn_bytes = c->torn_bytes;
        r.read_error = out.read_error;
        return r;
      }
    }
    std::optional<StoredRecording> stored = FindStoredRecording(
        absl::StrCat("sqlite://", fixture_->ca_state_dir(), "/ca.db"), command);
    if (stored.has_value()) return Summarise(stored->records, command);
    return out;
  }
  // Waits (60 s) for the session of `command` to end in its recording.
  Recorded FindEnded(const std::string& command) {
    Recorded r;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      r = Find(command);
      if (r.found && r.ended) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return r;
  }

  // `spctl sessions show` of the session of `command`, once the CA has
  // ended it (60 s at most).
  std::string ShowStored(const std::string& command) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      std::optional<StoredRecording> stored = FindStoredRecording(
          absl::StrCat("sqlite://", fixture_->ca_state_dir(), "/ca.db"),
          command);
      if (stored.has_value() &&
          stored->session.status != storage::SessionStatus::kActive) {
        RunResult show =
            Spctl(*fixture_, {"sessions", "show", stored->session.id});
        EXPECT_EQ(show.exit_code, 0) << show.Describe();
        return show.out;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    ADD_FAILURE() << "no ended recording of " << command;
    return "";
  }

  std::unique_ptr<BastionFixture> fixture_;
  std::unique_ptr<TempDir> dir_;
  std::string spool_;
};

// ssh at its default log level, as a user runs it (the fixture's config
// says ERROR): a refused channel's reason is an INFO line of ssh's.
const std::vector<std::string> kUserLogLevel = {"-o", "LogLevel=INFO"};

// What stock ssh prints for a session channel the gateway refused because
// it cannot be recorded (OpenSSH channels.c: "channel N: open failed:
// REASON: DESCRIPTION", at INFO): the description names the cause.
void ExpectRefusedForRecording(const std::string& err,
                               const std::string& cause) {
  bool found = false;
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    found |= absl::StrContains(line,
                               "open failed: resource shortage: "
                               "the session cannot be recorded: ") &&
             absl::StrContains(line, cause);
  }
  EXPECT_TRUE(found) << err;
}

// `seq FROM FROM+LINES-1`, paced: 1000 lines (8 KB) every 50 ms.
std::string Stream(int from, int lines) {
  return absl::StrCat("i=", from, "; while [ $i -lt ", from + lines,
                      " ]; do seq $i $((i+999)); i=$((i+1000)); sleep 0.05; "
                      "done");
}

TEST_F(RecordingPolicyE2eTest, RecordInputFollowsTheRole) {
  ASSERT_NO_FATAL_FAILURE(Start("64m"));
  // record_input: true, exec without a pty: the typed line is recorded.
  const std::string on = "read l; echo got-$l";
  RunResult r = GatewayE2eEnv::Shell(
      absl::StrCat("printf 'typed-on\\n' | ", SshLine("ines", on)));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << fixture_->GatewayLog();
  EXPECT_EQ(r.out, "got-typed-on\n");
  Recorded rec = FindEnded(on);
  ASSERT_TRUE(rec.found) << fixture_->GatewayLog();
  EXPECT_EQ(rec.input, "typed-on\n");
  EXPECT_EQ(rec.output, "got-typed-on\n");

  // record_input: false, a pty session: no input record at all.
  const std::string off_cmd = "read l; echo got-$l off";
  r = GatewayE2eEnv::Shell(absl::StrCat("printf 'typed-off\\n' | ",
                                        SshLine("otto", off_cmd, {"-tt"})));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << fixture_->GatewayLog();
  EXPECT_TRUE(absl::StrContains(r.out, "got-typed-off off")) << r.out;
  rec = FindEnded(off_cmd);
  ASSERT_TRUE(rec.found) << fixture_->GatewayLog();
  EXPECT_EQ(rec.input_records, 0u) << rec.input;
  EXPECT_TRUE(absl::StrContains(rec.output, "got-typed-off off"));
  // ... and `spctl sessions show` says so, with what was typed (it said
  // nothing: the recording looked whole). The line with record_input on
  // was kept whole.
  std::string show = ShowStored(off_cmd);
  EXPECT_TRUE(absl::StrContains(
      show, "; input not recorded (record_input is off; 10 B)\n"))
      << show;
  show = ShowStored(on);
  EXPECT_TRUE(absl::StrContains(show, "; input whole (9 B)\n")) << show;

  // No record_input in the role: a pty session's input is recorded, an
  // exec's without a pty is not.
  const std::string pty_cmd = "read l; echo got-$l pty";
  r = GatewayE2eEnv::Shell(absl::StrCat("printf 'typed-dflt\\n' | ",
                                        SshLine("alice", pty_cmd, {"-tt"})));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << fixture_->GatewayLog();
  rec = FindEnded(pty_cmd);
  ASSERT_TRUE(rec.found) << fixture_->GatewayLog();
  EXPECT_TRUE(absl::StrContains(rec.input, "typed-dflt")) << rec.input;
  const std::string exec_cmd = "read l; echo got-$l exec";
  r = GatewayE2eEnv::Shell(
      absl::StrCat("printf 'typed-exec\\n' | ", SshLine("alice", exec_cmd)));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "got-typed-exec exec\n");
  rec = FindEnded(exec_cmd);
  ASSERT_TRUE(rec.found);
  EXPECT_EQ(rec.input_records, 0u) << rec.input;
  // Stdin without a pty is hashed: its length and SHA-256 are shown.
  show = ShowStored(exec_cmd);
  EXPECT_TRUE(absl::StrContains(show,
                                "; input not recorded (record_input is off; "
                                "11 B, SHA-256 of the whole stream: "))
      << show;
}

TEST_F(RecordingPolicyE2eTest, FullSpoolEndsStrictSessionsAndNotBestEffort) {
  ASSERT_NO_FATAL_FAILURE(Start("16m"));
  // Two streams of ~3 MB each over ~20 s: alice (strict) and erin
  // (best_effort).
  const std::string strict_cmd = Stream(1000000, 400000);
  const std::string best_cmd = Stream(3000000, 400000);
  const std::string strict_out = dir_->File("strict.out");
  const std::string best_out = dir_->File("best.out");
  BackgroundProcess::Options po;
  po.log_path = dir_->File("strict.err");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> strict =
      BackgroundProcess::Start(
          {"sh", "-c",
           absl::StrCat("exec ", SshLine("alice", strict_cmd), " > ",
                        ShellQuote(strict_out))},
          po);
  ASSERT_TRUE(strict.ok()) << strict.status();
  BackgroundProcess::Options pb;
  pb.log_path = dir_->File("best.err");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> best =
      BackgroundProcess::Start(
          {"sh", "-c",
           absl::StrCat(SshLine("erin", best_cmd), " > ", ShellQuote(best_out),
                        "; echo exit=$? >> ",
                        ShellQuote(dir_->File("best.status")))},
          pb);
  ASSERT_TRUE(best.ok()) << best.status();
  // Both stream (200 KB each), then the spool filesystem is filled.
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline &&
         (ReadFileOrEmpty(strict_out).size() < 200000 ||
          ReadFileOrEmpty(best_out).size() < 200000)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GE(ReadFileOrEmpty(strict_out).size(), 200000u)
      << ReadFileOrEmpty(po.log_path) << fixture_->GatewayLog();
  ASSERT_GE(ReadFileOrEmpty(best_out).size(), 200000u);
  InGatewayNamespace(
      absl::StrCat("cat /dev/zero > ", ShellQuote(spool_ + "/filler")));

  // Strict: the session ends (well within 60 s; the goal is 5 s) and says
  // why.
  const absl::Time end_deadline = absl::Now() + absl::Seconds(60);
  while ((*strict)->Running() && absl::Now() < end_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE((*strict)->Running()) << fixture_->GatewayLog();
  // The gateway disconnects with the reason; stock ssh prints it even at
  // LogLevel ERROR (packet.c: "Received disconnect from HOST port P:11:
  // REASON").
  const std::string strict_err = ReadFileOrEmpty(po.log_path);
  EXPECT_TRUE(absl::StrContains(strict_err, "Received disconnect from"))
      << strict_err;
  EXPECT_TRUE(absl::StrContains(strict_err, "the session recording failed: "))
      << strict_err;
  EXPECT_TRUE(absl::StrContains(strict_err, "No space left on device"))
      << strict_err;
  const std::string strict_got = ReadFileOrEmpty(strict_out);
  RunResult expected = GatewayE2eEnv::Shell("seq 1000000 1399999");
  ASSERT_LT(strict_got.size(), expected.out.size())
      << "the strict stream finished before the spool filled";

  // Best effort: the stream completes, every byte.
  const absl::Time best_deadline = absl::Now() + absl::Seconds(180);
  while ((*best)->Running() && absl::Now() < best_deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_FALSE((*best)->Running());
  EXPECT_EQ(ReadFileOrEmpty(dir_->File("best.status")), "exit=0\n")
      << ReadFileOrEmpty(pb.log_path);
  RunResult best_expected = GatewayE2eEnv::Shell("seq 3000000 3399999");
  EXPECT_TRUE(ReadFileOrEmpty(best_out) == best_expected.out)
      << "best_effort stream: got " << ReadFileOrEmpty(best_out).size()
      << " of " << best_expected.out.size() << " bytes";
  const std::string log = fixture_->GatewayLog();
  EXPECT_TRUE(absl::StrContains(log, "event=recording.failed")) << log;
  EXPECT_TRUE(absl::StrContains(
      log, "record_mode=\"best_effort\" action=\"unrecorded\""))
      << log;
  EXPECT_TRUE(
      absl::StrContains(log, "record_mode=\"strict\" action=\"session-ended\""))
      << log;

  // Nothing already spooled is lost: both spools read with their chain
  // (a torn tail at most); the strict client got nothing the spool lacks;
  // the best_effort spool holds a prefix of its stream.
  Recorded s = Find(strict_cmd);
  ASSERT_TRUE(s.found) << s.read_error;
  ASSERT_GE(s.output.size(), strict_got.size());
  EXPECT_TRUE(s.output.substr(0, strict_got.size()) == strict_got)
      << "the strict client received bytes the spool does not hold";
  // The filler starts once each client has 200000 bytes (25 whole chunks of
  // the stream); a stream may be between chunks at exactly that many when
  // the spool fills, so both spools hold at least that much.
  EXPECT_GE(s.output.size(), 200000u);
  Recorded b = Find(best_cmd);
  ASSERT_TRUE(b.found) << b.read_error;
  EXPECT_GE(b.output.size(), 200000u);
  EXPECT_TRUE(best_expected.out.substr(0, b.output.size()) == b.output);

  // The strict session is ended at the CA as failed, with the reason in
  // its end record, and its spool deleted (it stayed active, its spool
  // kept and counted against spool_max_bytes, until a restart closed it
  // as interrupted). The spool's disk is still full: the end record goes
  // from the shipper's memory.
  const std::string store =
      absl::StrCat("sqlite://", fixture_->ca_state_dir(), "/ca.db");
  std::optional<StoredRecording> stored;
  const absl::Time ship_deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < ship_deadline) {
    stored = FindStoredRecording(store, strict_cmd);
    if (stored && stored->session.status == storage::SessionStatus::kFailed) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(stored.has_value()) << fixture_->GatewayLog();
  EXPECT_EQ(stored->session.status, storage::SessionStatus::kFailed)
      << fixture_->GatewayLog();
  ASSERT_TRUE(HasSessionEnd(stored->records));
  EXPECT_TRUE(absl::StrContains(stored->records.back().session_end().message(),
                                "No space left"))
      << stored->records.back().session_end().message();
  EXPECT_TRUE(stored->output.substr(0, strict_got.size()) == strict_got);
  EXPECT_TRUE(VerifyStoredRecording(store, stored->session.id).ok());
  RunResult left = GatewayE2eEnv::Shell(
      absl::StrCat("ls ", ShellQuote(SpoolSeen()), " | grep -c ",
                   ShellQuote(stored->session.id)));
  EXPECT_EQ(left.out, "0\n") << "the failed session's spool is still there";

  // Once both sessions are shipped (the best_effort one failed too) no
  // spool is left; the filler takes the room they freed.
  const absl::Time empty_deadline = absl::Now() + absl::Seconds(60);
  auto spools = [&] {
    return GatewayE2eEnv::Shell(absl::StrCat("ls ", ShellQuote(SpoolSeen()),
                                             " | grep -c '\\.spool$'"))
        .out;
  };
  while (absl::Now() < empty_deadline && spools() != "0\n") {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(spools(), "0\n") << fixture_->GatewayLog();
  InGatewayNamespace(
      absl::StrCat("cat /dev/zero >> ", ShellQuote(spool_ + "/filler")));
  // /healthz says so (it said ok while every recorded session failed), so
  // a load balancer sends users to another gateway.
  const auto healthz = [&] {
    return GatewayE2eEnv::Run(
        {"curl", "-s", "-w", " %{http_code}",
         absl::StrCat("http://127.0.0.1:", fixture_->gateway_metrics_port(),
                      "/healthz")});
  };
  RunResult full = healthz();
  EXPECT_TRUE(absl::EndsWith(full.out, " 503")) << full.Describe();
  EXPECT_TRUE(absl::StrContains(full.out, "disk is full")) << full.Describe();

  // A new strict session is refused with the reason.
  RunResult refused = GatewayE2eEnv::Run([&] {
    std::vector<std::string> a = Ssh("alice", kUserLogLevel);
    a.push_back("echo should-not-run");
    return a;
  }());
  EXPECT_NE(refused.exit_code, 0) << refused.Describe();
  EXPECT_FALSE(absl::StrContains(refused.out, "should-not-run"));
  ExpectRefusedForRecording(refused.err, "No space left on device");

  // A new best_effort session runs (unrecorded).
  RunResult allowed = GatewayE2eEnv::Run([&] {
    std::vector<std::string> a = Ssh("erin");
    a.push_back("echo runs-unrecorded");
    return a;
  }());
  EXPECT_EQ(allowed.exit_code, 0) << allowed.Describe();
  EXPECT_EQ(allowed.out, "runs-unrecorded\n");

  EXPECT_TRUE(
      absl::StrContains(fixture_->GatewayLog(),
                        "record_mode=\"strict\" action=\"channel-refused\""));

  // Room again: a new strict session is recorded, without a restart.
  InGatewayNamespace(absl::StrCat("rm ", ShellQuote(spool_ + "/filler")));
  RunResult again = GatewayE2eEnv::Run([&] {
    std::vector<std::string> a = Ssh("alice");
    a.push_back("echo recorded-again");
    return a;
  }());
  EXPECT_EQ(again.exit_code, 0) << again.Describe() << fixture_->GatewayLog();
  EXPECT_EQ(again.out, "recorded-again\n");
  // /healthz reads the spool's last write probe, made every probe
  // interval: it says 200 once a probe after the rm found room (a single
  // read right after the session could still see the probe before it).
  RunResult room = healthz();
  for (int i = 0; i < 100 && !absl::EndsWith(room.out, " 200"); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    room = healthz();
  }
  EXPECT_TRUE(absl::EndsWith(room.out, " 200")) << room.Describe();
}

TEST_F(RecordingPolicyE2eTest, ReadOnlySpoolRefusesNewStrictSessions) {
  ASSERT_NO_FATAL_FAILURE(Start("16m"));
  auto run = [&](const std::string& user, const std::string& command) {
    std::vector<std::string> a = Ssh(user, kUserLogLevel);
    a.push_back(command);
    return GatewayE2eEnv::Run(a);
  };
  RunResult before = run("alice", "echo before");
  ASSERT_EQ(before.exit_code, 0) << before.Describe() << fixture_->GatewayLog();
  RunResult ro = InGatewayNamespace(
      absl::StrCat("mount -o remount,ro ", ShellQuote(spool_)));
  ASSERT_EQ(ro.exit_code, 0) << ro.Describe();

  RunResult strict = run("alice", "echo should-not-run");
  EXPECT_NE(strict.exit_code, 0) << strict.Describe();
  EXPECT_FALSE(absl::StrContains(strict.out, "should-not-run"));
  ExpectRefusedForRecording(strict.err, "Read-only file system");

  RunResult best = run("erin", "echo best-effort-runs");
  EXPECT_EQ(best.exit_code, 0) << best.Describe() << fixture_->GatewayLog();
  EXPECT_EQ(best.out, "best-effort-runs\n");
  EXPECT_TRUE(
      absl::StrContains(fixture_->GatewayLog(),
                        "record_mode=\"best_effort\" action=\"unrecorded\""));
  // What was spooled before is still there.
  Recorded b = FindEnded("echo before");
  ASSERT_TRUE(b.found) << b.read_error;
  EXPECT_EQ(b.output, "before\n");
}

}  // namespace
}  // namespace sallyport::testing
