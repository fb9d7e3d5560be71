// Recording sessions and records for the Store suite's recording tests
// (store_test_recordings.cc, store_test_open_bytes.cc).
#ifndef SALLYPORT_STORAGE_STORE_TEST_RECORDS_H_
#define SALLYPORT_STORAGE_STORE_TEST_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/records.h"

namespace sallyport::storage::testing {

// An active session of alice (ubuntu@web01) written by `gateway`.
inline Session RecordedSession(std::string id, std::string gateway) {
  Session s;
  s.id = std::move(id);
  s.user = "alice";
  s.login = "ubuntu";
  s.host = "web01";
  s.started_at = absl::FromUnixMicros(1700000000123456);
  s.gateway_id = std::move(gateway);
  return s;
}

// A well-formed chain hash standing for record `seq` (another `salt`: another
// hash of the same seq).
inline std::string FakeHash(uint64_t seq, char salt = 'a') {
  std::string h(64, '0');
  const std::string n = absl::StrCat(seq);
  h.replace(64 - n.size(), n.size(), n);
  h[0] = salt;
  return h;
}

// One record of session `id` at `seq` on `channel`.
inline SessionRecord Rec(const std::string& id, uint64_t seq, uint32_t channel,
                         SessionRecordKind kind) {
  SessionRecord r;
  r.session_id = id;
  r.seq = seq;
  r.channel = channel;
  r.kind = kind;
  r.hash = FakeHash(seq);
  return r;
}
// A data record of `n` bytes.
inline SessionRecord DataRec(const std::string& id, uint64_t seq,
                             uint32_t channel, RecordDirection direction,
                             size_t n) {
  SessionRecord r = Rec(id, seq, channel, SessionRecordKind::kData);
  r.direction = direction;
  r.data.assign(n, 'x');
  return r;
}
// A channel's close with its totals, `in` and `out` bytes.
inline SessionRecord CloseRec(const std::string& id, uint64_t seq,
                              uint32_t channel, int64_t in, int64_t out) {
  SessionRecord r = Rec(id, seq, channel, SessionRecordKind::kChannelClose);
  r.value1 = in;
  r.value2 = out;
  return r;
}

}  // namespace sallyport::storage::testing

#endif  // SALLYPORT_STORAGE_STORE_TEST_RECORDS_H_
