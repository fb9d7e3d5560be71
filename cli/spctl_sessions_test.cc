// `spctl sessions play|export` over recordings the tests make, handed to
// them as the CA hands one out (ReadRecordsFn): what a recording from a
// CA, or from what answers as one, can make spctl hold and write.
#include "cli/spctl_sessions.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "audit/recording_record.h"
#include "cli/spctl.h"
#include "cli/spctl_recording_reader.h"
#include "gtest/gtest.h"
#include "proto/audit.pb.h"

namespace sallyport::cli {
namespace {

namespace av = audit::v1;

// Record n (from 1) as `record(n, &r)` makes it, up to the first n for
// which it returns false.
using RecordMaker = std::function<bool(uint64_t n, av::RecordingRecord* r)>;

// The recording of session "s1", made as it is read (a recording of a
// million records is not held here either): its records numbered and,
// when `chained`, chained as the gateway chains them, so that it
// verifies. Unchained, it is BROKEN at record 1 and is read faster (spctl
// stops hashing at the first broken record).
ReadRecordsFn Recorded(RecordMaker record, bool chained = true) {
  return [record = std::move(record), chained](
             RecordingHead* head,
             const RecordFn& on_record) -> std::optional<int> {
    head->session.set_session_id("s1");
    head->intact = true;
    audit::RecordChainer chainer("s1");
    av::RecordingRecord r;
    for (uint64_t n = 1;; ++n) {
      r.Clear();
      if (!record(n, &r)) break;
      r.set_session_id("s1");
      r.set_seq(n);
      if (absl::Status st = chained ? chainer.Append(r) : absl::OkStatus();
          !st.ok()) {
        ADD_FAILURE() << st;
        return kExitError;
      }
      if (auto rc = on_record(r)) return rc;
    }
    head->session.set_last_seq(chainer.last_seq());
    head->session.set_chain_head(chainer.head());
    return std::nullopt;
  };
}

void OpenSession(uint32_t channel_id, av::RecordingRecord* r) {
  r->set_channel_id(channel_id);
  r->mutable_channel_open()->set_type("session");
}

// Data of channel `channel_id` on SSH data type `stream`.
void Send(uint32_t channel_id, av::RecordDirection direction, uint32_t stream,
          std::string text, av::RecordingRecord* r) {
  r->set_channel_id(channel_id);
  r->mutable_data()->set_direction(direction);
  r->mutable_data()->set_ssh_stream(stream);
  r->mutable_data()->set_bytes(std::move(text));
}

void Print(uint32_t channel_id, std::string text, av::RecordingRecord* r) {
  Send(channel_id, av::RECORD_DIRECTION_OUTPUT, 0, std::move(text), r);
}

// What a verb returned and printed.
struct Ran {
  int rc = -1;
  std::string out, err;
};

// What `verb` returns and prints when run.
Ran Run(const std::function<int(Spctl& ctl)>& verb) {
  std::ostringstream out, err;
  Spctl ctl(out, err);
  Ran ran;
  ran.rc = verb(ctl);
  ran.out = out.str();
  ran.err = err.str();
  return ran;
}

// `play` of the recording `record` makes, unchained (BROKEN).
Ran PlayUnchained(RecordMaker record) {
  return Run([&](Spctl& ctl) {
    return Play(ctl, SessionArgs(),
                Recorded(std::move(record), /*chained=*/false));
  });
}

// What play and export say at the end of an unchained recording.
constexpr char kBrokenWarning[] =
    "spctl: WARNING: the recording of session s1 does not verify (BROKEN at "
    "record 1: record 1 does not match its hash (edited?)): what was shown "
    "may have been altered or cut; see `spctl sessions verify s1`\n";

// `play` of a recording (unchained: BROKEN) that opens `channels` session
// channels, the last of which prints "played".
Ran PlayTheLastOf(uint64_t channels) {
  return PlayUnchained([channels](uint64_t n, av::RecordingRecord* r) {
    if (n <= channels) {
      OpenSession(static_cast<uint32_t>(n - 1), r);
    } else if (n == channels + 1) {
      Print(static_cast<uint32_t>(channels - 1), "played", r);
    }
    return n <= channels + 1;
  });
}

// A limit `play_with` tests: `play_with(max)` plays "played" on channel
// `channel` (and exits 1 only because it is not chained);
// `play_with(max + 1)` plays nothing and stops with "spctl: sessions play:
// " `past_the_limit`.
void ExpectPlayedUpTo(const std::function<Ran(uint64_t n)>& play_with,
                      uint64_t max, uint64_t channel,
                      const std::string& past_the_limit) {
  Ran ran = play_with(max);
  EXPECT_EQ(ran.out, "played");
  EXPECT_EQ(ran.err, absl::StrCat("spctl: playing s1 channel ", channel,
                                  " (no pty)\n", kBrokenWarning));
  EXPECT_EQ(ran.rc, kExitError);

  ran = play_with(max + 1);
  EXPECT_EQ(ran.rc, kExitError);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err,
            absl::StrCat("spctl: sessions play: ", past_the_limit, "\n"));
}

// Found in review: the channels of a recording were kept without limit (a
// CA that sent channel_open records without end grew spctl's memory until
// it was killed). `show`, `play` and `export` take up to
// kMaxRecordingChannels channels and stop with an error after them.
TEST(SpctlSessionsTest, ARecordingOpensAtMostTheLimitOfChannels) {
  const uint64_t max = kMaxRecordingChannels;
  ExpectPlayedUpTo(PlayTheLastOf, max, max - 1,
                   absl::StrCat("the recording opens more than ", max,
                                " channels, the most spctl reads of one "
                                "recording"));
}

// `play` of a recording (unchained: BROKEN) of one session channel with
// input on SSH data types 0 to `streams` - 2, then output "played" on 0:
// `streams` streams.
Ran PlayAfterStreams(uint64_t streams) {
  return PlayUnchained([streams](uint64_t n, av::RecordingRecord* r) {
    if (n == 1) {
      OpenSession(7, r);
    } else if (n < streams + 1) {
      Send(7, av::RECORD_DIRECTION_INPUT, static_cast<uint32_t>(n - 2), "typed",
           r);
    } else if (n == streams + 1) {
      Print(7, "played", r);
    }
    return n <= streams + 1;
  });
}

// Found in review: the byte counts and summaries of a channel's streams
// were kept for every ssh_stream a recording named (a CA that sent data
// records with a new stream number each grew spctl's memory until it was
// killed, within kMaxRecordingChannels). `show`, `play` and `export` take
// up to kMaxRecordingStreamsPerChannel streams of a channel and stop with
// an error after them.
TEST(SpctlSessionsTest, AChannelHasAtMostTheLimitOfStreams) {
  const uint64_t max = kMaxRecordingStreamsPerChannel;
  ExpectPlayedUpTo(
      PlayAfterStreams, max, 0,
      absl::StrCat("channel 0 of the recording has more than ", max,
                   " streams, the most spctl reads of one "
                   "channel"));
}

// `show` of a recording of one closed session channel with stream
// summaries of output on SSH data types 0 to `streams` - 1.
Ran ShowSummaries(uint32_t streams) {
  return Run([streams](Spctl& ctl) {
    return Show(ctl, Recorded([streams](uint64_t n, av::RecordingRecord* r) {
                  if (n == 1) {
                    OpenSession(0, r);
                  } else if (n <= streams + 1) {
                    r->set_channel_id(0);
                    av::StreamSummaryRecord* sum = r->mutable_stream_summary();
                    sum->set_direction(av::RECORD_DIRECTION_OUTPUT);
                    sum->set_ssh_stream(static_cast<uint32_t>(n - 2));
                    sum->set_total_bytes(2);
                    sum->set_recorded_bytes(1);
                    sum->set_sha256(std::string(32, '\x5a'));
                  } else if (n == streams + 2) {
                    r->set_channel_id(0);
                    r->mutable_channel_close();
                  }
                  return n <= streams + 2;
                }));
  });
}

// Stream summaries count as streams too: `show` lists up to the limit.
TEST(SpctlSessionsTest, ShowListsAtMostTheLimitOfStreamSummaries) {
  const uint32_t max = kMaxRecordingStreamsPerChannel;
  Ran ran = ShowSummaries(max);
  EXPECT_EQ(ran.rc, kExitOk) << ran.err;
  EXPECT_EQ(ran.err, "");
  EXPECT_NE(ran.out.find(absl::StrCat("; output ", max - 1,
                                      " truncated at 1 B "
                                      "of 2 B (1 of 2 bytes;")),
            std::string::npos)
      << ran.out;

  ran = ShowSummaries(max + 1);
  EXPECT_EQ(ran.rc, kExitError);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err, absl::StrCat("spctl: sessions show: channel 0 of the "
                                  "recording has more than ",
                                  max,
                                  " streams, the most spctl reads of one "
                                  "channel\n"));
}

// A new directory for a test's files.
std::string NewDirectory(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::filesystem::path dir =
      std::filesystem::path(tmp != nullptr ? tmp : "/tmp") / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(dir)) {
    ++n;
  }
  return n;
}

// `export --out DIR/e` (or `--channel N --out DIR/e.cast`) of a recording
// of `channels` session channels, each printing its number.
Ran ExportEach(uint64_t channels, const std::string& dir, int channel = -1) {
  SessionArgs a;
  a.channel = channel;
  a.out = channel < 0 ? dir + "/e" : dir + "/e.cast";
  return Run([&](Spctl& ctl) {
    return Export(
        ctl, a, Recorded([channels](uint64_t n, av::RecordingRecord* r) {
          const uint64_t index = (n - 1) / 2;
          if (index >= channels) return false;
          if (n % 2 == 1) {
            OpenSession(static_cast<uint32_t>(index), r);
          } else {
            Print(static_cast<uint32_t>(index), absl::StrCat(index), r);
          }
          return true;
        }));
  });
}

// Found in review: `sessions export --out PREFIX` created a file for every
// session channel of the recording, however many a CA sent. It writes
// files for up to kMaxExportFiles channels; beyond them it writes none and
// says to pick one with --channel N, which still exports it.
TEST(SpctlSessionsTest, ExportWritesFilesForAtMostTheLimitOfChannels) {
  const uint64_t max = kMaxExportFiles;
  std::string dir = NewDirectory("at_the_limit");
  Ran ran = ExportEach(max, dir);
  EXPECT_EQ(ran.rc, kExitOk) << ran.err;
  EXPECT_EQ(FilesIn(dir), max);
  EXPECT_TRUE(
      std::filesystem::exists(absl::StrCat(dir, "/e.", max - 1, ".cast")));

  dir = NewDirectory("past_the_limit");
  ran = ExportEach(max + 1, dir);
  EXPECT_EQ(ran.rc, kExitError);
  EXPECT_EQ(ran.err, absl::StrCat("spctl: sessions export: session s1 has "
                                  "more than ",
                                  max,
                                  " session channels, the most spctl writes "
                                  "files for at once: pass --channel N to "
                                  "export one (`spctl sessions show s1` "
                                  "lists them)\n"));
  EXPECT_EQ(FilesIn(dir), 0u);

  ran = ExportEach(max + 1, dir, static_cast<int>(max));
  EXPECT_EQ(ran.rc, kExitOk) << ran.err;
  EXPECT_EQ(FilesIn(dir), 1u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/e.cast"));
}

}  // namespace
}  // namespace sallyport::cli
