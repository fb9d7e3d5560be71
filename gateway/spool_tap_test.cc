// The spool taps: what each kind of channel puts into the recording (pty
// sessions whole, exec output up to the limit then counted and hashed,
// sftp/scp and tunnels counted), tickets that turn Recorded once written,
// and the session's end.
#include "gateway/spool_tap.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "audit/recorder.h"
#include "audit/recording_record.h"
#include "audit/shipper.h"
#include "audit/spool.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {
namespace {

namespace v1 = ::sallyport::audit::v1;
using sallyport::testing::TempDir;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

// Now on the monotonic clock the taps' times are on.
absl::Duration Mono() { return base::Clock::Real()->Monotonic(); }

std::string Sha256(const std::string& s) {
  audit::StreamHasher h;
  h.Update(s);
  return *h.Finish();
}

class SpoolTapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("rec-tap");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(*std::move(dir));
    audit::RecorderOptions o;
    o.spool_dir = dir_->path();
    o.gateway_id = "gw-1";
    o.fsync_interval = absl::Milliseconds(50);
    absl::StatusOr<std::unique_ptr<audit::SpoolRecorder>> r =
        audit::SpoolRecorder::Start(o);
    ASSERT_TRUE(r.ok()) << r.status();
    spool_ = *std::move(r);
    SpoolTapOptions t;
    t.exec_output_limit = 1000;
    recorder_ = std::make_unique<SpoolTapRecorder>(*spool_, t);
  }

  ChannelInfo Info(uint32_t id, std::string type = "session") {
    ChannelInfo i;
    i.session_id = "sess-1";
    i.user = "alice";
    i.login = "ubuntu";
    i.host = "web01";
    i.channel_id = id;
    i.type = std::move(type);
    i.wake = [this] { wakes_.fetch_add(1); };
    return i;
  }

  // Ends the session (as `ending` says) and reads its spool back once
  // closed.
  audit::SpoolContents Finish(const SessionEnding& ending = SessionEnding()) {
    std::shared_ptr<audit::SessionRecording> s = recorder_->Find("sess-1");
    EXPECT_NE(s, nullptr);
    recorder_->EndSession("sess-1", ending);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (s != nullptr && !s->closed() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    absl::StatusOr<audit::SpoolContents> c =
        audit::ReadSpool(audit::SpoolPath(dir_->path(), "sess-1"));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : audit::SpoolContents();
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<audit::SpoolRecorder> spool_;
  std::unique_ptr<SpoolTapRecorder> recorder_;
  std::atomic<int> wakes_{0};
};

TEST_F(SpoolTapTest, EachChannelKindIsRecordedAsTheIssueSays) {
  const absl::Duration t = Mono();
  // 0: pty shell, everything kept (input too).
  auto pty = recorder_->Attach(Info(0));
  ASSERT_TRUE(pty.ok()) << pty.status();
  ASSERT_TRUE((*pty)->Request(t, Direction::kInput, "pty-req", "xterm").ok());
  ASSERT_TRUE((*pty)->WindowChange(t, 120, 40).ok());
  ASSERT_TRUE((*pty)->Request(t, Direction::kInput, "shell", "").ok());
  ASSERT_TRUE((*pty)->Data(t, Direction::kInput, 0, Bytes("ls\r")).ok());
  ASSERT_TRUE((*pty)->Data(t, Direction::kOutput, 0, Bytes("a b c\r\n")).ok());
  // 1: exec without pty: 2500 bytes of output with a limit of 1000.
  auto exec = recorder_->Attach(Info(1));
  ASSERT_TRUE(exec.ok());
  ASSERT_TRUE(
      (*exec)->Request(t, Direction::kInput, "exec", "cat /var/log/x").ok());
  std::string out;
  for (int i = 0; i < 5; ++i) {
    const std::string piece(500, static_cast<char>('0' + i));
    out += piece;
    ASSERT_TRUE((*exec)->Data(t, Direction::kOutput, 0, Bytes(piece)).ok());
    // stderr shares the channel's limit with stdout.
    if (i == 0 || i == 4) {
      ASSERT_TRUE((*exec)
                      ->Data(t, Direction::kOutput, 1,
                             Bytes(i == 0 ? "oops\n" : "late\n"))
                      .ok());
    }
  }
  ASSERT_TRUE((*exec)->Request(t, Direction::kOutput, "exit-status", "0").ok());
  // 2: sftp: counted only.
  auto sftp = recorder_->Attach(Info(2));
  ASSERT_TRUE(sftp.ok());
  ASSERT_TRUE((*sftp)->Request(t, Direction::kInput, "subsystem", "sftp").ok());
  ASSERT_TRUE((*sftp)->Data(t, Direction::kInput, 0, Bytes("put-data")).ok());
  // 3: a tunnel: destination and counts.
  ChannelInfo tunnel = Info(3, "direct-tcpip");
  tunnel.destination = "db.internal:5432";
  auto tcp = recorder_->Attach(tunnel);
  ASSERT_TRUE(tcp.ok());
  ASSERT_TRUE((*tcp)->Data(t, Direction::kOutput, 0, Bytes("secret")).ok());
  // Tickets turn Recorded once the writer wrote them.
  const uint64_t ticket = (*exec)->LastTicket();
  EXPECT_GT(ticket, 0u);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!(*exec)->Recorded(ticket) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE((*exec)->Recorded(ticket));
  EXPECT_GT(wakes_.load(), 0);
  for (auto* tap : {&*pty, &*exec, &*sftp, &*tcp}) (*tap)->Close(Mono());

  const audit::SpoolContents c = Finish();
  EXPECT_EQ(c.session.user(), "alice");
  // Record 1 carries the session's metadata into the chain.
  ASSERT_FALSE(c.records.empty());
  ASSERT_TRUE(c.records.front().has_session_start());
  EXPECT_EQ(c.records.front().session_start().user(), "alice");
  EXPECT_EQ(c.records.front().session_start().login(), "ubuntu");
  EXPECT_EQ(c.records.front().session_start().host(), "web01");
  EXPECT_EQ(c.records.front().session_start().started_at_us(),
            c.session.started_at_us());
  std::map<uint32_t, std::string> output, input;
  std::map<uint32_t, std::vector<v1::StreamSummaryRecord>> summaries;
  std::map<uint32_t, v1::ChannelCloseRecord> closes;
  std::map<uint32_t, v1::ChannelOpenRecord> opens;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_data()) {
      (r.data().direction() == v1::RECORD_DIRECTION_INPUT
           ? input
           : output)[r.channel_id()] += r.data().bytes();
    }
    if (r.has_stream_summary()) {
      summaries[r.channel_id()].push_back(r.stream_summary());
    }
    if (r.has_channel_close()) closes[r.channel_id()] = r.channel_close();
    if (r.has_channel_open()) opens[r.channel_id()] = r.channel_open();
  }
  ASSERT_TRUE(c.records.back().has_session_end());
  EXPECT_EQ(c.records.back().session_end().status(), v1::SESSION_STATUS_ENDED);
  // pty: whole, input included, no summaries.
  EXPECT_EQ(input[0], "ls\r");
  EXPECT_EQ(output[0], "a b c\r\n");
  EXPECT_TRUE(summaries[0].empty());
  // exec: the first 1000 bytes of the channel's output kept (500 of
  // stdout, 5 of stderr, 495 of stdout), then a summary per stream with
  // the hash of all of it.
  EXPECT_EQ(output[1], out.substr(0, 500) + "oops\n" + out.substr(500, 495));
  ASSERT_EQ(summaries[1].size(), 2u);
  EXPECT_EQ(summaries[1][0].ssh_stream(), 0u);
  EXPECT_EQ(summaries[1][0].total_bytes(), 2500u);
  EXPECT_EQ(summaries[1][0].recorded_bytes(), 995u);
  EXPECT_EQ(summaries[1][0].sha256(), Sha256(out));
  EXPECT_EQ(summaries[1][1].ssh_stream(), 1u);
  EXPECT_EQ(summaries[1][1].total_bytes(), 10u);
  EXPECT_EQ(summaries[1][1].recorded_bytes(), 5u);
  EXPECT_EQ(summaries[1][1].sha256(), Sha256("oops\nlate\n"));
  EXPECT_EQ(closes[1].bytes_output(), 2510u);
  // sftp and the tunnel: nothing kept, counted and hashed.
  EXPECT_EQ(input[2], "");
  ASSERT_EQ(summaries[2].size(), 1u);
  EXPECT_EQ(summaries[2][0].total_bytes(), 8u);
  EXPECT_EQ(summaries[2][0].sha256(), Sha256("put-data"));
  EXPECT_EQ(closes[2].bytes_input(), 8u);
  EXPECT_EQ(output[3], "");
  EXPECT_EQ(opens[3].destination(), "db.internal:5432");
  EXPECT_EQ(closes[3].bytes_output(), 6u);
}

// A command line is stored as the user typed it: one in Cyrillic was
// stored as "\\xd0\\xbb..." text, which `sessions show` (escaping the
// backslash) printed as "\\x5cxd0..." and `sessions ls --grep` could not
// find by its words. NUL and bytes that are not UTF-8 still become \\xNN
// (a record's text is a protobuf string), and a cut never splits a
// character. Such a summary is not the command: the record keeps the
// command as sent beside it (`raw`), whole.
TEST_F(SpoolTapTest, ACommandIsStoredInItsOwnCharacters) {
  const absl::Duration t = Mono();
  const std::string cyrillic =
      "grep \xd0\xbe\xd1\x88\xd0\xb8\xd0\xb1\xd0\xba\xd0\xb0 log";
  const std::string mixed =
      std::string("echo a") + '\0' + "b \xff \xe2\x80" + " \xe2\x80\xae!";
  const std::string long_one = "echo " + std::string(8186, 'x') + "\xd0\xbe";
  // What hides behind a cut: 10,000 spaces, then the command that runs.
  const std::string padded = "true" + std::string(10000, ' ') + "; rm -rf /srv";
  // Typed backslashes: the text of `mixed`'s summary, exact as it is.
  const std::string typed = "echo \\xff";
  const std::vector<std::string> sent = {cyrillic, mixed, long_one, padded,
                                         typed};
  for (uint32_t id = 0; id < sent.size(); ++id) {
    auto tap = recorder_->Attach(Info(id));
    ASSERT_TRUE(tap.ok()) << tap.status();
    ASSERT_TRUE((*tap)->Request(t, Direction::kInput, "exec", sent[id]).ok());
    (*tap)->Close(Mono());
  }
  const audit::SpoolContents c = Finish();
  std::map<uint32_t, v1::RequestRecord> commands;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_request() && r.request().type() == "exec") {
      commands[r.channel_id()] = r.request();
    }
  }
  ASSERT_EQ(commands.size(), sent.size());
  EXPECT_EQ(commands[0].summary(), cyrillic);
  // U+202E stays a character here: readers escape it for a terminal.
  EXPECT_EQ(commands[1].summary(),
            "echo a\\x00b \\xff \\xe2\\x80 \xe2\x80\xae!");
  // 8191 bytes fit in 8192; the 2-byte letter would not: cut before it.
  EXPECT_EQ(commands[2].summary().size(), 8191u);
  EXPECT_TRUE(commands[2].summary() == "echo " + std::string(8186, 'x'));
  EXPECT_EQ(commands[3].summary().size(), audit::kMaxRecordSummaryBytes);
  EXPECT_EQ(commands[4].summary(), typed);
  // The command as sent: kept beside a summary that is not it, so a typed
  // "\xff" and a byte 0xff differ, and nothing hides behind the cut.
  for (uint32_t id = 0; id < sent.size(); ++id) {
    const bool exact = id == 0 || id == 4;
    EXPECT_EQ(commands[id].raw(), exact ? "" : sent[id]) << id;
    EXPECT_TRUE(audit::RequestText(commands[id]) == sent[id]) << id;
  }
}

// A session's recording starts when the session did (the user
// authenticated, ChannelInfo::session_started_at), not when its first
// channel was attached: `ssh -N -L` at 10:08:10 with the first forward
// used at 10:08:18 was recorded as started at 10:08:18, so `sessions show`
// and `sessions ls --since/--until` disagreed with the audit log's
// session.start. The records' offsets are from the session's start.
TEST_F(SpoolTapTest, TheRecordingStartsWithTheSessionNotItsFirstChannel) {
  const absl::Time started =
      absl::FromUnixMicros(absl::ToUnixMicros(absl::Now() - absl::Seconds(8)));
  const absl::Duration started_monotonic = Mono() - absl::Seconds(8);
  ChannelInfo info = Info(0, "direct-tcpip");
  info.session_started_at = started;
  info.session_started_monotonic = started_monotonic;
  auto tap = recorder_->Attach(info);
  ASSERT_TRUE(tap.ok()) << tap.status();
  const absl::Duration at = Mono();
  ASSERT_TRUE((*tap)->Data(at, Direction::kOutput, 0, Bytes("x")).ok());
  (*tap)->Close(at);
  // A later channel's (another) start does not move it.
  ChannelInfo second = Info(1, "direct-tcpip");
  second.session_started_at = absl::Now();
  second.session_started_monotonic = at;
  auto later = recorder_->Attach(second);
  ASSERT_TRUE(later.ok()) << later.status();
  (*later)->Close(Mono());

  const audit::SpoolContents c = Finish();
  EXPECT_EQ(c.session.started_at_us(), absl::ToUnixMicros(started));
  // Record 1 is the session's metadata (in the chain), at the start.
  ASSERT_GE(c.records.size(), 2u);
  ASSERT_TRUE(c.records[0].has_session_start());
  EXPECT_EQ(c.records[0].session_start().started_at_us(),
            absl::ToUnixMicros(started));
  EXPECT_EQ(c.records[0].offset_us(), 0);
  ASSERT_TRUE(c.records[1].has_channel_open());
  EXPECT_GE(c.records[1].offset_us(), 8'000'000);
  for (const v1::RecordingRecord& r : c.records) {
    if (r.channel_id() == 0 && r.has_channel_close()) {
      EXPECT_EQ(r.offset_us(),
                absl::ToInt64Microseconds(at - started_monotonic));
    }
  }
}

// The end record keeps why the gateway ended the session (`spctl sessions
// show` prints it); a recording failure makes it a failed session, any
// other reason an ended one.
TEST_F(SpoolTapTest, TheEndRecordKeepsWhyTheSessionEnded) {
  for (const SessionEnding& ending :
       {SessionEnding{.reason = "certificate revoked"},
        SessionEnding{.recording_failed = true, .reason = "recording failed"},
        SessionEnding()}) {
    // A new spool for each (the taps go before their spool).
    recorder_.reset();
    spool_.reset();
    SetUp();
    auto tap = recorder_->Attach(Info(0));
    ASSERT_TRUE(tap.ok()) << tap.status();
    (*tap)->Close(Mono());
    const audit::SpoolContents c = Finish(ending);
    ASSERT_FALSE(c.records.empty());
    ASSERT_TRUE(c.records.back().has_session_end());
    const auto& end = c.records.back().session_end();
    EXPECT_EQ(end.status(), ending.recording_failed
                                ? audit::v1::SESSION_STATUS_FAILED
                                : audit::v1::SESSION_STATUS_ENDED)
        << ending.reason;
    EXPECT_EQ(end.message(), ending.reason);
  }
}

TEST_F(SpoolTapTest, AFailedRecordingFailsTheTapsAndNewChannels) {
  auto tap = recorder_->Attach(Info(0));
  ASSERT_TRUE(tap.ok());
  EXPECT_TRUE((*tap)->Health().ok());
  // Data over the session's recording backlog limit cannot be queued: the
  // tap fails (the bridge then closes the channel).
  audit::RecorderOptions o;
  o.spool_dir = dir_->path() + "/small";
  o.max_queue_bytes = 1024;
  o.max_session_backlog_bytes = 1024;
  auto small = audit::SpoolRecorder::Start(o);
  ASSERT_TRUE(small.ok());
  SpoolTapRecorder small_recorder(**small, SpoolTapOptions());
  auto t2 = small_recorder.Attach(Info(7));
  ASSERT_TRUE(t2.ok());
  ASSERT_TRUE((*t2)->Request(Mono(), Direction::kInput, "pty-req", "").ok());
  EXPECT_FALSE(
      (*t2)
          ->Data(Mono(), Direction::kOutput, 0, Bytes(std::string(4096, 'x')))
          .ok());
  (*t2)->Close(Mono());
  small_recorder.EndSession(
      "sess-1", SessionEnding{.recording_failed = true, .reason = "test over"});
  (*tap)->Close(Mono());
}

}  // namespace
}  // namespace sallyport::gateway

namespace sallyport::gateway {
namespace {

// recpol (issue 14): the role's record_input overrides the default (input
// of pty sessions only): false keeps a pty session's input out, true keeps
// an exec's in.
TEST_F(SpoolTapTest, RecordInputFromTheRoleOverridesTheDefault) {
  const absl::Duration t = Mono();
  ChannelInfo off = Info(0);
  off.record_input = false;
  auto pty = recorder_->Attach(off);
  ASSERT_TRUE(pty.ok()) << pty.status();
  ASSERT_TRUE((*pty)->Request(t, Direction::kInput, "pty-req", "xterm").ok());
  ASSERT_TRUE((*pty)->Data(t, Direction::kInput, 0, Bytes("secret\r")).ok());
  ASSERT_TRUE((*pty)->Data(t, Direction::kOutput, 0, Bytes("shown\r\n")).ok());
  ChannelInfo on = Info(1);
  on.record_input = true;
  auto exec = recorder_->Attach(on);
  ASSERT_TRUE(exec.ok());
  ASSERT_TRUE((*exec)->Request(t, Direction::kInput, "exec", "cat").ok());
  ASSERT_TRUE((*exec)->Data(t, Direction::kInput, 0, Bytes("typed\n")).ok());
  (*pty)->Close(t);
  (*exec)->Close(t);
  audit::SpoolContents c = Finish();
  std::string input0, input1, output0;
  for (const v1::RecordingRecord& r : c.records) {
    if (!r.has_data()) continue;
    if (r.data().direction() == v1::RECORD_DIRECTION_INPUT) {
      (r.channel_id() == 0 ? input0 : input1) += r.data().bytes();
    } else if (r.channel_id() == 0) {
      output0 += r.data().bytes();
    }
  }
  EXPECT_EQ(input0, "");
  EXPECT_EQ(output0, "shown\r\n");
  EXPECT_EQ(input1, "typed\n");
}

// A shell without a pty (`ssh -T gw`, `ssh gw < script`) reads its commands
// from its input, and has no command line: its input is recorded by
// default, as a pty session's is; an exec's is not, and a role's
// record_input: false still keeps the shell's out.
TEST_F(SpoolTapTest, AShellWithoutAPtyRecordsItsCommandsByDefault) {
  const absl::Duration t = Mono();
  ChannelInfo off = Info(2);
  off.record_input = false;
  const std::vector<std::pair<ChannelInfo, std::string>> channels = {
      {Info(0), "shell"}, {Info(1), "exec"}, {off, "shell"}};
  for (const auto& [info, type] : channels) {
    auto tap = recorder_->Attach(info);
    ASSERT_TRUE(tap.ok()) << tap.status();
    ASSERT_TRUE((*tap)->Request(t, Direction::kInput, type, "cat").ok());
    ASSERT_TRUE(
        (*tap)->Data(t, Direction::kInput, 0, Bytes("cat /etc/shadow\n")).ok());
    (*tap)->Close(t);
  }
  audit::SpoolContents c = Finish();
  std::map<uint32_t, std::string> input;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_data() && r.data().direction() == v1::RECORD_DIRECTION_INPUT) {
      input[r.channel_id()] += r.data().bytes();
    }
  }
  EXPECT_EQ(input[0], "cat /etc/shadow\n");
  EXPECT_EQ(input[1], "");
  EXPECT_EQ(input[2], "");
}

}  // namespace
}  // namespace sallyport::gateway

namespace sallyport::gateway {
namespace {

// Data records stay below the upload message limit: a write of exactly
// kMaxTapDataRecordBytes is one record, one byte more is two, and a 1 MiB
// write (the old per-record maximum, which no upload message could carry)
// is four; every record then fits one upload message.
TEST_F(SpoolTapTest, DataRecordsAreCappedBelowTheUploadMessageLimit) {
  const absl::Duration t = Mono();
  auto pty = recorder_->Attach(Info(0));
  ASSERT_TRUE(pty.ok()) << pty.status();
  ASSERT_TRUE((*pty)->Request(t, Direction::kInput, "pty-req", "xterm").ok());
  const std::string at_limit(kMaxTapDataRecordBytes, 'a');
  const std::string over = std::string(kMaxTapDataRecordBytes, 'b') + "c";
  const std::string mib(size_t{1} << 20, 'd');
  for (const std::string* s : {&at_limit, &over, &mib}) {
    ASSERT_TRUE((*pty)->Data(t, Direction::kOutput, 0, Bytes(*s)).ok());
  }
  (*pty)->Close(t);
  const audit::SpoolContents c = Finish();
  std::vector<size_t> sizes;
  std::string output;
  for (const v1::RecordingRecord& r : c.records) {
    if (!r.has_data()) continue;
    sizes.push_back(r.data().bytes().size());
    output += r.data().bytes();
    EXPECT_LT(r.ByteSizeLong(), audit::kShipMaxMessageBytes);
  }
  const size_t k = kMaxTapDataRecordBytes;
  EXPECT_EQ(sizes, (std::vector<size_t>{k, k, 1, k, k, k, k}));
  EXPECT_TRUE(output == at_limit + over + mib);
}

// Exec output past the limit is hashed as it passes: nothing is queued
// for it, so the data waits for no record, and the summary carries the
// SHA-256 of the whole stream.
TEST_F(SpoolTapTest, ExecOutputPastTheLimitWaitsForNoRecord) {
  const absl::Duration t = Mono();
  auto exec = recorder_->Attach(Info(1));
  ASSERT_TRUE(exec.ok()) << exec.status();
  ChannelTap& tap = **exec;
  ASSERT_TRUE(tap.Request(t, Direction::kInput, "exec", "yes").ok());
  // The first 1000 bytes (the limit) are kept: a record to wait for.
  std::string all(1000, 'a');
  ASSERT_TRUE(tap.Data(t, Direction::kOutput, 0, Bytes(all)).ok());
  const uint64_t kept = tap.LastTicket();
  EXPECT_GT(kept, 0u);
  std::shared_ptr<audit::SessionRecording> session = recorder_->Find("sess-1");
  ASSERT_NE(session, nullptr);
  const uint64_t queued = session->last_queued();
  // 8 MiB more: no record queued, nothing more to wait for.
  const std::string piece(size_t{1} << 20, 'z');
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(tap.Data(t, Direction::kOutput, 0, Bytes(piece)).ok());
    all += piece;
  }
  EXPECT_EQ(tap.LastTicket(), kept);
  EXPECT_EQ(session->last_queued(), queued);
  tap.Close(t);
  const audit::SpoolContents c = Finish();
  std::vector<v1::StreamSummaryRecord> summaries;
  std::string output;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_stream_summary()) summaries.push_back(r.stream_summary());
    if (r.has_data()) output += r.data().bytes();
  }
  EXPECT_EQ(output, all.substr(0, 1000));
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].total_bytes(), all.size());
  EXPECT_EQ(summaries[0].recorded_bytes(), 1000u);
  EXPECT_EQ(summaries[0].sha256(), Sha256(all));
}

// `scp -t` (upload) and `scp -f` (download) over exec are file transfers:
// counted and hashed both ways, their content not kept (issue 14), like
// the sftp subsystem; an ordinary exec that merely names scp is kept, and
// so is one that runs something besides scp ("scp -f x; cat
// /etc/shadow") or runs on a pty (scp never asks for one): neither can
// hide its output behind the transfer rule.
TEST_F(SpoolTapTest, ScpTransfersAreCountedNotKept) {
  const absl::Duration t = Mono();
  const std::vector<std::string> commands = {
      "scp -t /tmp/in", "scp -f /tmp/out", "scp --version",
      "scp -f /tmp/out; cat /etc/shadow", "scp -f /tmp/out"};
  const uint32_t kOnAPty = 4;
  for (uint32_t id = 0; id < commands.size(); ++id) {
    auto tap = recorder_->Attach(Info(id));
    ASSERT_TRUE(tap.ok()) << tap.status();
    if (id == kOnAPty) {
      ASSERT_TRUE(
          (*tap)->Request(t, Direction::kInput, "pty-req", "xterm").ok());
    }
    ASSERT_TRUE(
        (*tap)->Request(t, Direction::kInput, "exec", commands[id]).ok());
    ASSERT_TRUE(
        (*tap)
            ->Data(t, Direction::kInput, 0, Bytes("C0644 9 f\nfile-body"))
            .ok());
    ASSERT_TRUE((*tap)->Data(t, Direction::kOutput, 0, Bytes("ack-body")).ok());
    (*tap)->Close(t);
  }
  const audit::SpoolContents c = Finish();
  std::map<uint32_t, std::string> kept;
  std::map<uint32_t, std::vector<v1::StreamSummaryRecord>> summaries;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_data()) kept[r.channel_id()] += r.data().bytes();
    if (r.has_stream_summary()) {
      summaries[r.channel_id()].push_back(r.stream_summary());
    }
  }
  for (uint32_t id : {0u, 1u}) {
    EXPECT_EQ(kept[id], "") << commands[id];
    ASSERT_EQ(summaries[id].size(), 2u) << commands[id];
    EXPECT_EQ(summaries[id][0].direction(), v1::RECORD_DIRECTION_OUTPUT);
    EXPECT_EQ(summaries[id][0].total_bytes(), 8u);
    EXPECT_EQ(summaries[id][0].sha256(), Sha256("ack-body"));
    EXPECT_EQ(summaries[id][1].direction(), v1::RECORD_DIRECTION_INPUT);
    EXPECT_EQ(summaries[id][1].total_bytes(), 19u);
    EXPECT_EQ(summaries[id][1].recorded_bytes(), 0u);
    EXPECT_EQ(summaries[id][1].sha256(), Sha256("C0644 9 f\nfile-body"));
  }
  // Not a transfer: its output kept (input of a non-pty exec is not).
  EXPECT_EQ(kept[2], "ack-body");
  EXPECT_EQ(kept[3], "ack-body");
  // On a pty, input is kept too (the pty default).
  EXPECT_EQ(kept[kOnAPty], "C0644 9 f\nfile-bodyack-body");
}

// A channel's tap keeps state for kMaxTapStreams streams (data and stderr
// each way); one more is a caller's bug (the bridges drop other extended
// data codes), refused with kInternal and nothing kept for it, so a code
// path that forgot the drop cannot make a peer grow the tap's state and
// the channel's stream_summary records with codes of its choosing.
TEST_F(SpoolTapTest, ATapKeepsAtMostFourStreams) {
  static_assert(kMaxTapStreams == 4);
  const absl::Duration t = Mono();
  auto tap = recorder_->Attach(Info(1, "direct-tcpip"));
  ASSERT_TRUE(tap.ok()) << tap.status();
  for (const Direction d : {Direction::kInput, Direction::kOutput}) {
    for (uint32_t stream : {0u, 1u}) {
      ASSERT_TRUE((*tap)->Data(t, d, stream, Bytes("x")).ok()) << stream;
    }
  }
  // Again on a stream it has: fine.
  EXPECT_TRUE((*tap)->Data(t, Direction::kOutput, 1, Bytes("y")).ok());
  for (uint32_t code = 2; code < 100; ++code) {
    absl::Status st = (*tap)->Data(t, Direction::kOutput, code, Bytes("z"));
    ASSERT_EQ(st.code(), absl::StatusCode::kInternal) << code << " " << st;
  }
  (*tap)->Close(t);
  const audit::SpoolContents c = Finish();
  std::vector<v1::StreamSummaryRecord> summaries;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_stream_summary()) summaries.push_back(r.stream_summary());
    if (r.has_channel_close()) {
      EXPECT_EQ(r.channel_close().bytes_input(), 2u);
      EXPECT_EQ(r.channel_close().bytes_output(), 3u);
    }
  }
  ASSERT_EQ(summaries.size(), kMaxTapStreams);
  for (const v1::StreamSummaryRecord& s : summaries) {
    EXPECT_LE(s.ssh_stream(), 1u);
  }
}

}  // namespace
}  // namespace sallyport::gateway
