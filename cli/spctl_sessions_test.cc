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

void Print(uint32_t channel_id, std::string text, av::RecordingRecord* r) {
  r->set_channel_id(channel_id);
  r->mutable_data()->set_direction(av::RECORD_DIRECTION_OUTPUT);
  r->mutable_data()->set_bytes(std::move(text));
}

// What a verb returned and printed.
struct Ran {
  int rc = -1;
  std::string out, err;
};

// What play and export say at the end of an unchained recording.
constexpr char kBrokenWarning[] =
    "spctl: WARNING: the recording of session s1 does not verify (BROKEN at "
    "record 1: record 1 does not match its hash (edited?)): what was shown "
    "may have been altered or cut; see `spctl sessions verify s1`\n";

// `play` of a recording (unchained: BROKEN) that opens `channels` session
// channels, the last of which prints "played".
Ran PlayTheLastOf(uint64_t channels) {
  std::ostringstream out, err;
  Spctl ctl(out, err);
  Ran ran;
  ran.rc = Play(ctl, SessionArgs(),
                Recorded(
                    [channels](uint64_t n, av::RecordingRecord* r) {
                      if (n <= channels) {
                        OpenSession(static_cast<uint32_t>(n - 1), r);
                      } else if (n == channels + 1) {
                        Print(static_cast<uint32_t>(channels - 1), "played", r);
                      }
                      return n <= channels + 1;
                    },
                    /*chained=*/false));
  ran.out = out.str();
  ran.err = err.str();
  return ran;
}

// Found in review: the channels of a recording were kept without limit (a
// CA that sent channel_open records without end grew spctl's memory until
// it was killed). `show`, `play` and `export` take up to
// kMaxRecordingChannels channels and stop with an error after them.
TEST(SpctlSessionsTest, ARecordingOpensAtMostTheLimitOfChannels) {
  const uint64_t max = kMaxRecordingChannels;
  // Played; it ends with exit 1 only because it is not chained.
  Ran ran = PlayTheLastOf(max);
  EXPECT_EQ(ran.out, "played");
  EXPECT_EQ(ran.err, absl::StrCat("spctl: playing s1 channel ", max - 1,
                                  " (no pty)\n", kBrokenWarning));
  EXPECT_EQ(ran.rc, kExitError);

  ran = PlayTheLastOf(max + 1);
  EXPECT_EQ(ran.rc, kExitError);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err, absl::StrCat("spctl: sessions play: the recording opens "
                                  "more than ",
                                  max,
                                  " channels, the most spctl reads of one "
                                  "recording\n"));
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
  std::ostringstream out, err;
  Spctl ctl(out, err);
  SessionArgs a;
  a.channel = channel;
  a.out = channel < 0 ? dir + "/e" : dir + "/e.cast";
  Ran ran;
  ran.rc =
      Export(ctl, a, Recorded([channels](uint64_t n, av::RecordingRecord* r) {
               const uint64_t index = (n - 1) / 2;
               if (index >= channels) return false;
               if (n % 2 == 1) {
                 OpenSession(static_cast<uint32_t>(index), r);
               } else {
                 Print(static_cast<uint32_t>(index), absl::StrCat(index), r);
               }
               return true;
             }));
  ran.out = out.str();
  ran.err = err.str();
  return ran;
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
