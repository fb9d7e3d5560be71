// Fuzz target: recording records (audit/recording_record.h) as they arrive
// from untrusted places: canonical bytes read back from a spool, and
// RecordingRecord protos uploaded by a gateway. The first byte picks:
//   0  the rest is canonical bytes: what parses and converts to a record is
//      valid, converts back to the same fields, re-encodes to exactly the
//      same bytes (one encoding per record) and hashes as those bytes;
//   1  the rest is a RecordingRecord proto: what ValidateRecord accepts
//      goes to fields and back unchanged, and its canonical bytes parse
//      back to the same fields;
//   2  records of every kind built from the rest and chained: each one's
//      canonical bytes parse back to it, and the chain recomputes;
//   3  the rest is an exec command line: ScpTransferDirection
//      (audit/scp_command.h) says "upload", "download" or "", and a
//      transfer (kept as counts only) is "scp" with options then a path
//      and no shell metacharacter.
// Any broken invariant aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/recording_fuzz_input.h"
#include "audit/recording_record.h"
#include "audit/scp_command.h"

namespace sallyport::audit {
namespace {

using fuzz::Require;

// A valid record's fields survive FromFields and the canonical bytes.
void RoundTrip(const v1::RecordingRecord& r) {
  const RecordFields f = ToFields(r);
  absl::StatusOr<v1::RecordingRecord> back = FromFields(f);
  Require(back.ok(), "a valid record's fields must convert back");
  Require(ToFields(*back) == f, "fields changed on the way back");
  std::string canonical;
  AppendCanonicalBytes(f, canonical);
  absl::StatusOr<RecordFields> parsed = ParseCanonicalBytes(canonical);
  Require(parsed.ok(), "a valid record's canonical bytes must parse");
  RecordFields want = f;
  want.hash.clear();
  Require(*parsed == want, "canonical bytes parse to other fields");
}

// The first byte picks the mode (see the top of the file).
void FuzzOne(uint8_t mode, fuzz::ByteReader& in) {
  switch (mode % 4) {
    case 0: {
      const std::string bytes(in.Rest());
      absl::StatusOr<RecordFields> f = ParseCanonicalBytes(bytes);
      if (!f.ok()) {
        Require(f.status().code() == absl::StatusCode::kDataLoss,
                "malformed canonical bytes must be kDataLoss");
        break;
      }
      absl::StatusOr<v1::RecordingRecord> r = FromFields(*f);
      if (!r.ok()) break;
      Require(ValidateRecord(*r).ok(), "FromFields made an invalid record");
      Require(ToFields(*r) == *f, "a parsed record has other fields");
      std::string again;
      AppendCanonicalBytes(ToFields(*r), again);
      Require(again == bytes, "a record has two canonical encodings");
      absl::StatusOr<std::string> a = ChainHash(kRecordingGenesis, bytes);
      absl::StatusOr<std::string> b = RecordHash(kRecordingGenesis, *r);
      Require(a.ok() && b.ok() && *a == *b && a->size() == 64,
              "the hash of a record is not the hash of its bytes");
      RoundTrip(*r);
      break;
    }
    case 1: {
      v1::RecordingRecord r;
      const std::string bytes(in.Rest());
      if (!r.ParseFromString(bytes)) break;
      if (!ValidateRecord(r).ok()) break;
      RoundTrip(r);
      break;
    }
    case 3: {
      const std::string command(in.Rest());
      const std::string_view d = ScpTransferDirection(command);
      Require(IsScpTransferCommand(command) == !d.empty(),
              "IsScpTransferCommand disagrees with ScpTransferDirection");
      if (d.empty()) break;
      Require(d == "upload" || d == "download", "unknown scp direction");
      Require(command.starts_with("scp "), "a transfer that is not scp");
      Require(
          command.find_first_of(";&|$`()<>\\'\"{}\n\r") == std::string::npos,
          "a transfer with a shell metacharacter");
      break;
    }
    default: {
      RecordChainer chain("fuzz-session");
      std::string head(kRecordingGenesis);
      const uint8_t count = in.U8();
      const int n = 1 + count % 8;
      const bool started = (count & 0x80) != 0;
      const v1::RecordingSession session =
          started ? fuzz::MakeSession(in) : v1::RecordingSession();
      for (int i = 0; i < n; ++i) {
        v1::RecordingRecord r =
            i == 0 && started ? fuzz::MakeStart(session) : fuzz::MakeRecord(in);
        Require(chain.Append(r).ok(), "a built record must chain");
        RoundTrip(r);
        absl::StatusOr<std::string> h = RecordHash(head, r);
        Require(h.ok() && *h == r.hash() && chain.head() == r.hash(),
                "the chain does not recompute");
        head = *h;
      }
      Require(chain.last_seq() == static_cast<uint64_t>(n), "seq count");
      break;
    }
  }
}

}  // namespace
}  // namespace sallyport::audit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sallyport::audit::fuzz::RunOne(data, size, sallyport::audit::FuzzOne);
}
