// Fuzz target: the CA side of recordings over a real SQLite Store: the
// upload path (RecordingWriter, behind GatewayRecordings.UploadRecording:
// what a gateway sends is untrusted) and the reader behind `spctl sessions
// verify/show/play` (what the database holds may have been edited). The
// first byte picks:
//   0  a chained recording uploaded in messages the input cuts, re-sends,
//      leaves gaps in and alters; then one edit of the stored rows
//      (UPDATE / DELETE with sqlite3, as an intruder with database access
//      would), of a record or of the session's row (user, login, host,
//      start: found at the session_start record when there is one);
//   1  records of every kind with fields overlaid from the input as a
//      RecordingRecord proto, chained and uploaded in one message.
// Invariants: after every upload the stored chain is whole (VerifyRecording
// intact, ReadSessionStreams reads it) and holds exactly the original
// records up to its head; a gap or an altered record (new, or stored and
// sent again with its old hash) is refused; an upload that continues the
// chain is stored; any edit of the rows is found, at the edited seq; every
// valid record the chainer accepts is stored and read back with the same
// fields.
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/recording_fuzz_input.h"
#include "audit/recording_reader.h"
#include "audit/recording_record.h"
#include "audit/recording_writer.h"
#include "storage/open.h"
#include "storage/store.h"

namespace sallyport::audit {
namespace {

constexpr char kGateway[] = "gw-fuzz";

using fuzz::Require;

struct Db {
  std::string path;
  std::unique_ptr<storage::Store> store;
  sqlite3* raw = nullptr;  // a second connection, for the edits
  uint64_t sessions = 0;
};

Db& TheDb() {
  static Db* db = [] {
    auto* d = new Db;
    d->path = fuzz::TempDir("recording_store_fuzz") + "/store.db";
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenStore("sqlite://" + d->path);
    Require(store.ok(), "open the store");
    d->store = *std::move(store);
    Require(sqlite3_open(d->path.c_str(), &d->raw) == SQLITE_OK, "sqlite");
    sqlite3_busy_timeout(d->raw, 10000);
    return d;
  }();
  return *db;
}

// Rows changed, or -1 when SQLite refused the statement (a CHECK).
int Sql(const std::string& sql) {
  Db& db = TheDb();
  if (sqlite3_exec(db.raw, sql.c_str(), nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    return -1;
  }
  return sqlite3_changes(db.raw);
}

// The stored records, read with the chain checked; the chain must be whole
// and hold the originals' first records.
size_t CheckStored(const std::string& id,
                   const std::vector<v1::RecordingRecord>& originals) {
  storage::Store& store = *TheDb().store;
  absl::StatusOr<RecordingCheck> check = VerifyRecording(store, id);
  Require(check.ok() && check->intact, "an upload broke the stored chain");
  absl::StatusOr<storage::Session> s = store.GetSession(id);
  Require(s.ok() && s->last_seq == check->records &&
              s->chain_head == check->computed_head,
          "the session's head is not its last record");
  RecordingReader reader(store, id);
  size_t n = 0;
  while (true) {
    absl::StatusOr<std::optional<v1::RecordingRecord>> next = reader.Next();
    Require(next.ok(), "the reader refused an intact chain");
    if (!next->has_value()) break;
    Require(n < originals.size() && ToFields(**next) == ToFields(originals[n]),
            "a stored record is not the one uploaded");
    ++n;
  }
  Require(n == check->records, "reader and verify disagree");
  absl::StatusOr<SessionStreams> streams = ReadSessionStreams(store, id);
  Require(streams.ok(), "ReadSessionStreams refused an intact chain");
  return n;
}

v1::RecordingSession Begin(fuzz::ByteReader& in) {
  v1::RecordingSession meta = fuzz::MakeSession(in);
  meta.set_session_id(absl::StrCat("f", ++TheDb().sessions));
  RecordingWriter writer(*TheDb().store);
  absl::StatusOr<v1::RecordingSession> begun = writer.Begin(kGateway, meta);
  Require(begun.ok(), "Begin");
  absl::StatusOr<v1::RecordingSession> other = writer.Begin("gw-other", meta);
  Require(!other.ok() &&
              other.status().code() == absl::StatusCode::kPermissionDenied,
          "another gateway's session was accepted");
  return meta;
}

void Uploads(fuzz::ByteReader& in) {
  const v1::RecordingSession meta = Begin(in);
  const std::string& id = meta.session_id();
  std::vector<v1::RecordingRecord> originals;
  RecordChainer chain(id);
  const uint8_t count = in.U8();
  const size_t n = 1 + count % 10;
  // Recordings made since session_start records start with one; older
  // ones do not (their session's user, login, host, start are uncovered).
  const bool covered = (count & 0x80) != 0;
  for (size_t i = 0; i < n; ++i) {
    v1::RecordingRecord r =
        i == 0 && covered ? fuzz::MakeStart(meta) : fuzz::MakeRecord(in);
    if (r.has_session_end()) r.mutable_data()->set_bytes("not an end");
    Require(chain.Append(r).ok(), "a built record must chain");
    originals.push_back(r);
  }
  RecordingWriter writer(*TheDb().store);
  size_t stored = 0;
  const int messages = 1 + in.U8() % 5;
  for (int m = 0; m < messages; ++m) {
    const size_t a = in.U8() % (n + 1);
    const size_t b = a + in.U8() % (n - a + 1);
    std::vector<v1::RecordingRecord> slice(originals.begin() + a,
                                           originals.begin() + b);
    std::optional<size_t> altered;
    if (!slice.empty() && in.U8() % 3 == 0) {
      altered = in.U8() % slice.size();
      v1::RecordingRecord& r = slice[*altered];
      r.set_offset_us(r.offset_us() ^ 1);  // the hash is left as it was
    }
    absl::StatusOr<v1::RecordingSession> s = writer.Write(kGateway, id, slice);
    const size_t before = stored;
    stored = CheckStored(id, originals);
    if (slice.empty()) continue;
    if (a > before) {
      Require(!s.ok() && stored == before, "a gap was accepted");
    } else if (altered) {
      // New or stored already (sent again with the old hash): refused.
      Require(!s.ok() && stored <= std::max(before, a + *altered),
              "an altered record was accepted");
    } else {
      Require(s.ok() && stored == std::max(before, b),
              "an upload continuing the chain was refused");
    }
  }
  // One edit of the stored rows; verify must name the edited seq.
  if (stored == 0) return;
  const uint64_t k = 1 + in.U8() % stored;
  const std::string where =
      absl::StrCat(" WHERE session_id = '", id, "' AND seq = ", k);
  static constexpr const char* kEdits[] = {
      "UPDATE session_chunks SET data = CAST(data || x'00' AS BLOB)",
      "UPDATE session_chunks SET offset_us = offset_us + 1",
      "UPDATE session_chunks SET channel = channel + 1",
      "UPDATE session_chunks SET name = name || 'x'",
      "UPDATE session_chunks SET summary = summary || 'x'",
      "UPDATE session_chunks SET value1 = value1 + 1",
      "UPDATE session_chunks SET stream = stream + 1",
      "UPDATE session_chunks SET hash = upper(hash)",
      "UPDATE session_chunks SET kind = 'data'",
      "UPDATE session_chunks SET direction = 'input'",
      "DELETE FROM session_chunks",
      // Edits of the session's row (the last ones of this list).
      "UPDATE sessions SET user_name = user_name || 'x'",
      "UPDATE sessions SET login = login || 'x'",
      "UPDATE sessions SET host = host || 'x'",
      "UPDATE sessions SET started_at_us = started_at_us + 1",
      "UPDATE sessions SET chain_head = upper(chain_head)",
  };
  constexpr size_t kFirstRowEdit = std::size(kEdits) - 5;
  const size_t edit = in.U8() % std::size(kEdits);
  const bool head_edit = edit + 1 == std::size(kEdits);
  const bool row_edit = edit >= kFirstRowEdit;
  const int changed =
      Sql(row_edit ? absl::StrCat(kEdits[edit], " WHERE id = '", id, "'")
                   : absl::StrCat(kEdits[edit], where));
  if (changed <= 0) return;  // refused by a CHECK: nothing was edited
  // 'data'/'input' may be what the row held already.
  absl::StatusOr<RecordingCheck> check = VerifyRecording(*TheDb().store, id);
  Require(check.ok(), "verify failed on an edited chain");
  if (edit == 8 && ToFields(originals[k - 1]).kind == "data") {
    Require(check->intact, "a no-op edit broke the chain");
    return;
  }
  if (edit == 9 && ToFields(originals[k - 1]).direction == "input") {
    Require(check->intact, "a no-op edit broke the chain");
    return;
  }
  if (row_edit && !head_edit) {
    // Found at the session_start record that says otherwise; a recording
    // without one does not cover the session's metadata.
    Require(check->metadata_covered == covered, "metadata_covered");
    Require(covered ? !check->intact && check->first_broken_seq == 1u
                    : check->intact,
            "an edit of the session's metadata was not found at its start");
    return;
  }
  Require(
      !check->intact && check->first_broken_seq == (head_edit ? stored + 1 : k),
      "an edit of the stored rows was not found at its seq");
  absl::StatusOr<SessionStreams> streams =
      ReadSessionStreams(*TheDb().store, id);
  Require(
      !streams.ok() && streams.status().code() == absl::StatusCode::kDataLoss,
      "ReadSessionStreams read an edited chain");
}

void Overlaid(fuzz::ByteReader& in) {
  const v1::RecordingSession meta = Begin(in);
  const std::string& id = meta.session_id();
  std::vector<v1::RecordingRecord> records;
  RecordChainer chain(id);
  const int n = 1 + in.U8() % 6;
  for (int i = 0; i < n; ++i) {
    v1::RecordingRecord r = fuzz::MakeRecord(in);
    (void)r.MergeFromString(in.Bytes(64));
    r.clear_session_end();  // an end only last (see below)
    // A start must say the session's metadata (the writer refuses other);
    // the chainer refuses one that is not the first record.
    if (r.has_session_start())
      *r.mutable_session_start() = fuzz::MakeStart(meta).session_start();
    if (r.kind_case() == v1::RecordingRecord::KIND_NOT_SET) continue;
    if (chain.Append(r).ok()) records.push_back(r);
  }
  v1::RecordingRecord end;
  end.set_offset_us(in.U32());
  end.mutable_session_end()->set_status(v1::SESSION_STATUS_ENDED);
  end.mutable_session_end()->set_message(in.Text(30));
  Require(chain.Append(end).ok(), "an end must chain");
  records.push_back(end);
  RecordingWriter writer(*TheDb().store);
  absl::StatusOr<v1::RecordingSession> s = writer.Write(kGateway, id, records);
  Require(s.ok() && s->status() == v1::SESSION_STATUS_ENDED,
          "valid chained records were refused");
  Require(CheckStored(id, records) == records.size(), "records went missing");
}

// The first byte picks the mode (see the top of the file).
void FuzzOne(uint8_t mode, fuzz::ByteReader& in) {
  if (mode % 2 == 0) {
    Uploads(in);
  } else {
    Overlaid(in);
  }
}

}  // namespace
}  // namespace sallyport::audit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sallyport::audit::fuzz::RunOne(data, size, sallyport::audit::FuzzOne);
}
