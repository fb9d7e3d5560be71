// Fuzz target: the spool reader and repair (audit/spool.h), which the
// gateway's shipper runs over files a killed process may have left torn,
// and which a full disk or a bad block may have damaged. The first byte
// picks:
//   0  the file is the raw input;
//   1  a valid magic and session frame, then the raw input as frames;
//   2  a valid spool of records built from the input, then one damage:
//      none, a truncation, a flipped byte, zeros appended (blocks never
//      written), garbage appended, or a live tail (the reader drains a
//      prefix, the rest is appended, Refresh, drain again).
// Any input: a spool that reads holds a whole chain (seq 1..n, every hash
// recomputed) and good + torn bytes = the file; Repair cuts exactly the
// torn tail and the repaired spool reads the same records; a spool that does
// not read is kDataLoss and Repair refuses it without changing a byte.
// Built spools: the records read are exactly the originals up to the
// damage; a flipped byte in a record that is not the last one (its length
// field included) is never taken for a torn tail.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "audit/recording_fuzz_input.h"
#include "audit/recording_record.h"
#include "audit/spool.h"

namespace sallyport::audit {
namespace {

using fuzz::Require;

const std::string& Path() {
  static const std::string path = fuzz::TempDir("spool_fuzz") + "/s.spool";
  return path;
}

void WriteFile(const std::string& bytes, bool append = false) {
  const int fd = ::open(
      Path().c_str(),
      O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
  Require(fd >= 0, "open for write");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    Require(n > 0, "write");
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

std::string ReadFile() {
  std::string out;
  const int fd = ::open(Path().c_str(), O_RDONLY | O_CLOEXEC);
  Require(fd >= 0, "open for read");
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Magic and the session frame (the writer's layout, spool.h).
std::string Header(const v1::RecordingSession& session) {
  std::string out(kSpoolMagic);
  const std::string meta = session.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(meta.size());
  const char b[5] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n), 'M'};
  out.append(b, 5);
  out += meta;
  StreamHasher h;
  h.Update(meta);
  absl::StatusOr<std::string> check = h.Finish();
  Require(check.ok(), "sha256");
  out += *check;
  return out;
}

// The checks every file gets; returns ReadSpool's answer.
absl::StatusOr<SpoolContents> CheckAnyFile(const std::string& bytes) {
  absl::StatusOr<SpoolContents> read = ReadSpool(Path());
  if (!read.ok()) {
    Require(read.status().code() == absl::StatusCode::kDataLoss,
            "a spool that does not read must be kDataLoss");
    absl::StatusOr<uint64_t> repaired = RepairSpool(Path());
    Require(!repaired.ok() &&
                repaired.status().code() == absl::StatusCode::kDataLoss,
            "Repair must refuse what does not read");
    Require(ReadFile() == bytes, "a refused Repair changed the file");
    return read;
  }
  Require(read->good_bytes + read->torn_bytes == bytes.size(),
          "good + torn bytes must be the file");
  std::string head(kRecordingGenesis);
  for (size_t i = 0; i < read->records.size(); ++i) {
    const v1::RecordingRecord& r = read->records[i];
    Require(r.seq() == i + 1, "records must be numbered 1..n");
    Require(r.session_id() == read->session.session_id(),
            "a record of another session");
    Require(ValidateRecord(r).ok(), "a record read must be valid");
    absl::StatusOr<std::string> hash = RecordHash(head, r);
    Require(hash.ok() && *hash == r.hash(), "a record off the chain");
    head = r.hash();
  }
  Require(read->head == head, "the head is not the last record's hash");
  absl::StatusOr<uint64_t> repaired = RepairSpool(Path());
  Require(repaired.ok() && *repaired == read->torn_bytes,
          "Repair must cut exactly the torn tail");
  const std::string after = ReadFile();
  Require(after == bytes.substr(0, read->good_bytes),
          "Repair must keep the good bytes as they were");
  absl::StatusOr<SpoolContents> again = ReadSpool(Path());
  Require(again.ok() && again->torn_bytes == 0 &&
              again->records.size() == read->records.size() &&
              again->head == read->head,
          "a repaired spool must read the same records");
  return read;
}

bool SameRecords(const std::vector<v1::RecordingRecord>& got,
                 const std::vector<v1::RecordingRecord>& want, size_t n) {
  if (got.size() != n || want.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (got[i].SerializeAsString() != want[i].SerializeAsString()) {
      return false;
    }
  }
  return true;
}

void BuiltSpool(fuzz::ByteReader& in) {
  const v1::RecordingSession session = fuzz::MakeSession(in);
  std::string bytes = Header(session);
  const size_t header_end = bytes.size();
  std::vector<size_t> ends;  // where each record's frame ends
  std::vector<v1::RecordingRecord> records;
  RecordChainer chain(session.session_id());
  const uint8_t count = in.U8();
  const int n = count % 12;
  for (int i = 0; i < n; ++i) {
    // A recording made since session_start records starts with one.
    v1::RecordingRecord r = i == 0 && (count & 0x80) != 0
                                ? fuzz::MakeStart(session)
                                : fuzz::MakeRecord(in);
    Require(chain.Append(r).ok(), "a built record must chain");
    Require(SpoolWriter::EncodeFrame(r, bytes).ok(), "EncodeFrame");
    records.push_back(r);
    ends.push_back(bytes.size());
  }
  auto frame_of = [&](size_t offset) {  // the record whose frame holds it
    size_t k = 0;
    while (k < ends.size() && ends[k] <= offset) ++k;
    return k;
  };
  const uint8_t damage = in.U8() % 6;
  const size_t at = bytes.size() == 0 ? 0 : in.U32() % bytes.size();
  switch (damage) {
    case 0: {  // none
      WriteFile(bytes);
      absl::StatusOr<SpoolContents> read = CheckAnyFile(bytes);
      Require(read.ok() && read->torn_bytes == 0 &&
                  SameRecords(read->records, records, records.size()),
              "an undamaged spool must read whole");
      break;
    }
    case 1: {  // a truncation (a killed writer)
      const std::string cut = bytes.substr(0, at);
      WriteFile(cut);
      absl::StatusOr<SpoolContents> read = CheckAnyFile(cut);
      if (at < header_end) {
        Require(!read.ok(), "a spool without its session frame read");
      } else {
        const size_t k = frame_of(at);
        Require(read.ok() && SameRecords(read->records, records, k) &&
                    read->good_bytes == (k == 0 ? header_end : ends[k - 1]),
                "a truncated spool must read every whole record");
      }
      break;
    }
    case 2: {  // a flipped byte
      const uint8_t x = static_cast<uint8_t>(in.U8() | 1);
      std::string bad = bytes;
      bad[at] = static_cast<char>(bad[at] ^ x);
      WriteFile(bad);
      absl::StatusOr<SpoolContents> read = CheckAnyFile(bad);
      if (at < header_end) {
        Require(!read.ok(), "a damaged session frame read");
        break;
      }
      const size_t k = frame_of(at);
      if (read.ok()) {
        Require(SameRecords(read->records, records, k),
                "records after a damaged frame were read");
      }
      // Its length field included (it would disagree with the record's
      // own lengths).
      if (k + 1 < records.size()) {
        Require(!read.ok(), "damage followed by records taken for a torn tail");
      }
      break;
    }
    case 3: {  // zeros: blocks allocated, never written
      std::string padded = bytes + std::string(1 + at % 8192, '\0');
      WriteFile(padded);
      absl::StatusOr<SpoolContents> read = CheckAnyFile(padded);
      Require(read.ok() && SameRecords(read->records, records, records.size()),
              "zeros after the last record must read as a torn tail");
      break;
    }
    case 4: {  // garbage after the records
      std::string more = bytes + std::string(in.Rest());
      WriteFile(more);
      absl::StatusOr<SpoolContents> read = CheckAnyFile(more);
      if (read.ok()) {
        Require(SameRecords(read->records, records, records.size()),
                "garbage lost or made records");
      }
      break;
    }
    default: {  // a live tail (the shipper follows a spool being written)
      const size_t split = at < header_end ? header_end : at;
      WriteFile(bytes.substr(0, split));
      absl::StatusOr<SpoolReader> reader = SpoolReader::Open(Path());
      Require(reader.ok(), "open a live spool");
      size_t got = 0;
      for (int round = 0; round < 2; ++round) {
        while (true) {
          absl::StatusOr<std::optional<v1::RecordingRecord>> next =
              reader->Next();
          Require(next.ok(), "a live tail must read");
          if (!next->has_value()) break;
          Require(got < records.size() && (*next)->SerializeAsString() ==
                                              records[got].SerializeAsString(),
                  "a live tail read another record");
          ++got;
        }
        if (round == 0) {
          Require(got == frame_of(split), "a live prefix lost records");
          WriteFile(bytes.substr(split), /*append=*/true);
          Require(reader->Refresh().ok(), "Refresh");
        }
      }
      Require(got == records.size() && reader->torn_bytes() == 0 &&
                  reader->last_seq() == records.size(),
              "after Refresh the reader must reach the end");
      break;
    }
  }
}

// The first byte picks the mode (see the top of the file).
void FuzzOne(uint8_t mode, fuzz::ByteReader& in) {
  switch (mode % 3) {
    case 0: {
      const std::string bytes(in.Rest());
      WriteFile(bytes);
      (void)CheckAnyFile(bytes);
      break;
    }
    case 1: {
      std::string bytes = Header(fuzz::MakeSession(in));
      bytes += in.Rest();
      WriteFile(bytes);
      (void)CheckAnyFile(bytes);
      break;
    }
    default:
      BuiltSpool(in);
      break;
  }
}

}  // namespace
}  // namespace sallyport::audit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sallyport::audit::fuzz::RunOne(data, size, sallyport::audit::FuzzOne);
}
