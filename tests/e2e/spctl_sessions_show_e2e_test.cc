// `spctl sessions show` against the real CA: how each channel ended and
// where a tunnel went, what the recording kept of each channel (text, json,
// yaml), and what a user chose reaching the auditor only escaped: a
// command's newlines and escape sequences, bidirectional and invisible
// characters, string controls in played output, and a session's id, user,
// login and host in every verb. Listing, search and `last`:
// spctl_sessions_e2e_test.cc.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "tests/e2e/spctl_audit_e2e_fixture.h"

namespace sallyport::e2e {
namespace {

// `sessions show` names how each channel ended and where a tunnel went: an
// exec killed by a signal shows exit-signal=KILL (it showed neither exit
// nor signal, as if it had never ended), a direct-tcpip its destination.
TEST_F(SpctlAuditTest, ShowNamesTheExitSignalAndATunnelsDestination) {
  av::RecordingRecord tunnel = Open(1, 100);
  tunnel.mutable_channel_open()->set_type("direct-tcpip");
  tunnel.mutable_channel_open()->set_destination("web01:8080");
  StoreRecording("s-killed", {Open(0, 0), Request(0, 10, "exec", "kill -9 $$"),
                              Request(0, 20, "exit-signal", "KILL"),
                              Close(0, 30), tunnel, Close(1, 200)});
  RunResult show = env_->Spctl({"sessions", "show", "s-killed"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(show.out,
                                "command=kill -9 $$ bytes_in=10 bytes_out=40 "
                                "exit-signal=KILL"))
      << show.out;
  EXPECT_TRUE(
      absl::StrContains(show.out, "direct-tcpip destination=web01:8080"))
      << show.out;
}

// `sessions show` says per channel what the recording kept, from what the
// gateway recorded of it (it said nothing, so a cut or missing stream
// looked whole): exec output past record_exec_output_limit (its stream
// summary: kept, total, SHA-256), stdin and typed input the role does not
// record, sftp and scp kept as byte counts only, an open channel's bytes
// so far; in the text and in --output json|yaml, which keep the session's
// fields where they were.
TEST_F(SpctlAuditTest, ShowSaysWhatTheRecordingKeptOfEachChannel) {
  constexpr uint64_t kMiB = 1 << 20;
  av::RecordingRecord tunnel = Open(5, 50);
  tunnel.mutable_channel_open()->set_type("direct-tcpip");
  tunnel.mutable_channel_open()->set_destination("db:5432");
  StoreRecording(
      "s-kept",
      {// An exec whose output passed the limit; stdin not recorded.
       Open(0, 0), Request(0, 1, "exec", "make all"),
       Data(0, 2, false, "gcc -c a.c\n"),
       Summary(0, 3, false, 40 * kMiB, 16 * kMiB, '\xa1'),
       Summary(0, 3, true, 300, 0, '\xb2'), CloseWith(0, 4, 300, 40 * kMiB),
       // sftp: counts only.
       Open(1, 10), Request(1, 11, "subsystem", "sftp"),
       Summary(1, 12, false, 5 * kMiB, 0, '\xc3'),
       Summary(1, 12, true, 1234, 0, '\xd4'), CloseWith(1, 13, 1234, 5 * kMiB),
       // A shell whose role does not record input.
       Open(2, 20), Request(2, 21, "pty-req", "xterm"),
       Request(2, 22, "shell", ""), Data(2, 23, false, "$ "),
       CloseWith(2, 24, 57, 2),
       // A shell that records input, still open.
       Open(3, 30), Request(3, 31, "pty-req", "xterm"),
       Data(3, 32, true, "ls\r"), Data(3, 33, false, "a b\r\n"),
       // scp's remote end: counts only.
       Open(4, 40), Request(4, 41, "exec", "scp -f /etc/hosts"),
       Summary(4, 42, false, 2048, 0, '\xe5'), CloseWith(4, 43, 0, 2048),
       // A tunnel.
       tunnel, CloseWith(5, 51, 0, 0)});
  const auto hex = [](char c) {
    std::string h;
    for (int i = 0; i < 32; ++i) {
      absl::StrAppend(
          &h, absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
    return h;
  };
  RunResult show = env_->Spctl({"sessions", "show", "s-kept"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  for (const std::string& line : {
           absl::StrCat("channel 0 (id 0): session command=make all "
                        "bytes_in=300 bytes_out=41943040\n  recorded: output "
                        "truncated at 16 MiB of 40 MiB (16777216 of 41943040 "
                        "bytes; SHA-256 of the whole stream: ",
                        hex('\xa1'),
                        "); input not recorded (record_input is off; 300 B, "
                        "SHA-256 of the whole stream: ",
                        hex('\xb2'), ")\n"),
           // The subsystem by its name (not command=sftp, which an exec
           // of `sftp` also reads as).
           absl::StrCat("channel 1 (id 1): session subsystem=sftp "
                        "bytes_in=1234 bytes_out=5242880\n  recorded: byte "
                        "counts only (sftp): output 5 MiB "
                        "(SHA-256 ",
                        hex('\xc3'), "), input 1.2 KiB (SHA-256 ", hex('\xd4'),
                        ")\n"),
           std::string("\n  recorded: output whole (2 B); input not recorded "
                       "(record_input is off; 57 B)\n"),
           std::string("\n  recorded: output 5 B so far; input 3 B so far\n"),
           absl::StrCat("\n  recorded: byte counts only (scp): output 2 KiB "
                        "(SHA-256 ",
                        hex('\xe5'), ")\n"),
           std::string("destination=db:5432 bytes_in=0 bytes_out=0\n  "
                       "recorded: byte counts only (direct-tcpip): no data\n"),
       }) {
    EXPECT_TRUE(absl::StrContains(show.out, line)) << "missing:\n"
                                                   << line << "\nin:\n"
                                                   << show.out;
  }

  RunResult json =
      env_->Spctl({"sessions", "show", "s-kept", "--output", "json"});
  ASSERT_TRUE(json.ok()) << json.Describe();
  EXPECT_TRUE(IsJson(json.out)) << json.out;
  for (const std::string& field :
       {std::string("\"session_id\": \"s-kept\""),
        std::string("\"status\": \"SESSION_STATUS_ACTIVE\""),
        std::string("\"intact\": true"), std::string("\"kept\": \"truncated\""),
        std::string("\"recorded_bytes\": \"16777216\""),
        std::string("\"total_bytes\": \"41943040\""),
        absl::StrCat("\"sha256\": \"", hex('\xa1'), "\""),
        std::string("\"counts_only\": \"sftp\""),
        std::string("\"kept\": \"not_recorded\""),
        std::string("\"kept\": \"so_far\""),
        std::string("\"subsystem\": \"sftp\"")}) {
    EXPECT_TRUE(absl::StrContains(json.out, field)) << field << "\n"
                                                    << json.out;
  }
  RunResult yaml =
      env_->Spctl({"sessions", "show", "s-kept", "--output", "yaml"});
  ASSERT_TRUE(yaml.ok()) << yaml.Describe();
  for (const std::string& field :
       {std::string("session_id: \"s-kept\"\n"), std::string("\nrecords: 26\n"),
        std::string("\n        kept: \"truncated\"\n"),
        std::string("\n    counts_only: \"scp\"\n"),
        std::string("\n        kept: \"not_recorded\"\n")}) {
    EXPECT_TRUE(absl::StrContains(yaml.out, field)) << field << "\n"
                                                    << yaml.out;
  }
}

// What a user chose cannot forge lines or drive the auditor's terminal:
// `show` escapes a command's newline and escape sequences (a forged
// "channel 1 ... command=FAKE" line appeared), and `play` drops the string
// controls of the output (an OSC 52 clipboard write and a window title
// reached the terminal) while keeping colours.
TEST_F(SpctlAuditTest, ShowAndPlayDoNotPassUserEscapesToTheTerminal) {
  StoreRecording(
      "s-forge",
      {Open(0, 0),
       Request(0, 10, "exec",
               "true; #\n\x1b[2K\rchannel 1 (id 1): session command=FAKE"),
       Data(0, 20, false,
            "\x1b]52;c;cm0gLXJmIH4K\x07\x1b]0;FAKE TITLE\x07"
            "\x1b[31mred\x1b[0m\n"),
       Close(0, 30)});
  RunResult show = env_->Spctl({"sessions", "show", "s-forge"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(
      show.out,
      "command=true; #\\x0a\\x1b[2K\\x0dchannel 1 (id 1): session "
      "command=FAKE bytes_in="))
      << show.out;
  EXPECT_EQ(show.out.find('\x1b'), std::string::npos) << show.out;
  RunResult play = env_->Spctl({"sessions", "play", "s-forge"});
  ASSERT_TRUE(play.ok()) << play.Describe();
  EXPECT_EQ(play.out, "\x1b[31mred\x1b[0m\n");
}

// A recorded command cannot read as another (Trojan Source,
// CVE-2021-42574): "rm -rf ~/" followed by RIGHT-TO-LEFT OVERRIDE and
// "txt.seton" printed as "rm -rf ~/notes.txt" in a terminal; `show` now
// writes the override's bytes, and a zero-width space inside a word, as
// \xNN. A command in another script stays as it is.
TEST_F(SpctlAuditTest, ShowEscapesBidiControlsAndInvisibleCharacters) {
  StoreRecording("s-bidi",
                 {Open(0, 0),
                  Request(0, 10, "exec",
                          "rm -rf ~/\xe2\x80\xae"
                          "txt.seton"),
                  Close(0, 20), Open(1, 30),
                  Request(1, 40, "exec",
                          "cat /srv/\xd0\xbe\xd1\x82\xd1\x87\xd1\x91\xd1\x82 "
                          "pass\xe2\x80\x8bwd"),
                  Close(1, 50)});
  RunResult show = env_->Spctl({"sessions", "show", "s-bidi"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  EXPECT_TRUE(absl::StrContains(
      show.out, "command=rm -rf ~/\\xe2\\x80\\xaetxt.seton bytes_in="))
      << show.out;
  EXPECT_TRUE(absl::StrContains(
      show.out,
      "command=cat /srv/\xd0\xbe\xd1\x82\xd1\x87\xd1\x91\xd1\x82 "
      "pass\\xe2\\x80\\x8bwd bytes_in="))
      << show.out;
  EXPECT_FALSE(absl::StrContains(show.out, "\xe2\x80\xae")) << show.out;
  EXPECT_FALSE(absl::StrContains(show.out, "\xe2\x80\x8b")) << show.out;
}

// Found in review: a session's id, user, login and host were printed as
// stored by `sessions ls`, `verify`, `play` and `export` (`show` escaped
// them): a row whose id was "7f3a: OK, 5 records, hash chain intact" and
// ESC [8m made `verify` of a broken recording read as OK, with the BROKEN
// after it concealed. They are now escaped everywhere, as `show` does.
TEST_F(SpctlAuditTest, SessionMetadataIsEscapedInEveryVerb) {
  const std::string fake = "7f3a: OK, 5 records, hash chain intact\x1b[8m";
  const std::string quiet = "q\x1b]0;T\x07\xe2\x80\xae";
  const std::string intact = "i\x1b[8m\xc2\x9b";
  {
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenStore(env_->ca().store_url());
    ASSERT_TRUE(store.ok()) << store.status();
    const auto put = [&](const std::string& id,
                         std::vector<av::RecordingRecord> records,
                         bool break_it) {
      storage::Session s;
      s.id = id;
      s.user = "alice\x1b[8m";
      s.login = "ubuntu\x1b]52;c;eA==\x07";
      s.host = "web01\xe2\x80\xae\xc2\x9b";
      s.gateway_id = "gw-1";
      s.started_at = absl::Now() - absl::Minutes(5);
      ASSERT_TRUE((*store)->CreateSession(s).ok());
      audit::RecordChainer chain(id);
      std::vector<storage::SessionRecord> rows;
      for (av::RecordingRecord& r : records) {
        ASSERT_TRUE(chain.Append(r).ok());
        // An edit after the hash: the chain breaks at this record.
        if (break_it && r.has_data()) r.mutable_data()->set_bytes("edited\n");
        absl::StatusOr<storage::SessionRecord> row = audit::ToStoreRecord(r);
        ASSERT_TRUE(row.ok()) << row.status();
        rows.push_back(*row);
      }
      ASSERT_TRUE((*store)->AppendSessionRecords(rows).ok());
    };
    put(fake, {Open(0, 0), Data(0, 10, false, "hello\n"), Close(0, 20)}, true);
    put(quiet, {Open(0, 0), Close(0, 20)}, false);
    put(intact, {Open(0, 0), Data(0, 10, false, "hello\n"), Close(0, 20)},
        false);
  }
  const auto no_raw = [](const RunResult& r, const std::string& what) {
    for (const std::string* text : {&r.out, &r.err}) {
      EXPECT_EQ(text->find('\x1b'), std::string::npos) << what << ": " << *text;
      EXPECT_FALSE(absl::StrContains(*text, "\xe2\x80\xae"))
          << what << ": " << *text;
      EXPECT_FALSE(absl::StrContains(*text, "\xc2\x9b"))
          << what << ": " << *text;
    }
  };
  RunResult ls = env_->Spctl({"sessions", "ls"});
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  no_raw(ls, "ls");
  EXPECT_TRUE(absl::StrContains(
      ls.out,
      "7f3a: OK, 5 records, hash chain intact\\x1b[8m\talice\\x1b[8m\t"
      "ubuntu\\x1b]52;c;eA==\\x07\tweb01\\xe2\\x80\\xae\\xc2\\x9b\t"))
      << ls.out;
  RunResult verify = env_->Spctl({"sessions", "verify", fake});
  EXPECT_EQ(verify.exit_code, 1) << verify.Describe();
  no_raw(verify, "verify");
  EXPECT_TRUE(absl::StrContains(
      verify.out,
      "session 7f3a: OK, 5 records, hash chain intact\\x1b[8m: BROKEN at "
      "record 2"))
      << verify.out;
  RunResult ok = env_->Spctl({"sessions", "verify", intact});
  EXPECT_TRUE(ok.ok()) << ok.Describe();
  no_raw(ok, "verify intact");
  EXPECT_TRUE(absl::StrContains(ok.out, "session i\\x1b[8m\\xc2\\x9b: OK"))
      << ok.out;
  RunResult play = env_->Spctl({"sessions", "play", fake});
  EXPECT_EQ(play.exit_code, 1) << play.Describe();
  no_raw(play, "play");
  EXPECT_TRUE(absl::StrContains(play.err,
                                "playing 7f3a: OK, 5 records, "
                                "hash chain intact\\x1b[8m channel"))
      << play.err;
  EXPECT_TRUE(absl::StrContains(
      play.err,
      "WARNING: the recording of session 7f3a: OK, 5 records, "
      "hash chain intact\\x1b[8m does not verify"))
      << play.err;
  // Export's stdout is an asciicast: its JSON strings hold the session's
  // names and output as JSON escapes them (ESC, not U+202E); its stderr
  // is escaped.
  RunResult exp = env_->Spctl({"sessions", "export", fake});
  EXPECT_EQ(exp.exit_code, 1) << exp.Describe();
  EXPECT_EQ(exp.out.find('\x1b'), std::string::npos) << exp.out;
  EXPECT_TRUE(absl::StrContains(exp.out, "edited")) << exp.out;
  RunResult exp_err = exp;
  exp_err.out.clear();
  no_raw(exp_err, "export");
  EXPECT_TRUE(absl::StrContains(
      exp.err,
      "WARNING: the recording of session 7f3a: OK, 5 records, "
      "hash chain intact\\x1b[8m does not verify"))
      << exp.err;
  for (const std::string verb : {"play", "export"}) {
    RunResult none = env_->Spctl({"sessions", verb, quiet});
    EXPECT_NE(none.exit_code, 0) << none.Describe();
    no_raw(none, verb + " without output");
    EXPECT_TRUE(absl::StrContains(
        none.err, "session q\\x1b]0;T\\x07\\xe2\\x80\\xae has no recorded"))
        << none.err;
  }
  RunResult show = env_->Spctl({"sessions", "show", fake});
  EXPECT_TRUE(show.ok()) << show.Describe();
  no_raw(show, "show");
}

}  // namespace
}  // namespace sallyport::e2e
