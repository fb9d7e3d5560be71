// The canonical bytes of a record (see recording_record.h): written,
// parsed back, and measured from a prefix.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "audit/recording_record.h"
#include "audit/recording_record_internal.h"

namespace sallyport::audit {

using recording_record_internal::AppendCanonical;
using recording_record_internal::CopySharedFields;
using recording_record_internal::FieldsView;
using recording_record_internal::ViewOf;

namespace {

constexpr std::string_view kDomain = kRecordingDomain;

void PutU32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
void PutU64(std::string& out, uint64_t v) {
  PutU32(out, static_cast<uint32_t>(v >> 32));
  PutU32(out, static_cast<uint32_t>(v));
}
void PutStr(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// A bounds-checked reader over canonical bytes.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t& v) {
    uint32_t hi = 0, lo = 0;
    if (!U32(hi) || !U32(lo)) return false;
    v = (uint64_t{hi} << 32) | lo;
    return true;
  }
  bool I64(int64_t& v) {
    uint64_t u = 0;
    if (!U64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool Str(std::string& s, size_t max) {
    uint32_t n = 0;
    if (!U32(n) || n > max || n > in_.size()) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

namespace recording_record_internal {

void AppendCanonicalHead(const FieldsView& f, std::string& out) {
  PutStr(out, kDomain);
  PutStr(out, f.session_id);
  PutU64(out, f.seq);
  PutU32(out, f.channel_id);
  PutU64(out, static_cast<uint64_t>(f.offset_us));
  PutStr(out, f.kind);
  PutStr(out, f.direction);
  PutU32(out, f.stream);
  PutStr(out, f.name);
  PutStr(out, f.summary);
  PutU64(out, static_cast<uint64_t>(f.value1));
  PutU64(out, static_cast<uint64_t>(f.value2));
  PutU32(out, static_cast<uint32_t>(f.data.size()));
}

void AppendCanonical(const FieldsView& f, std::string& out) {
  AppendCanonicalHead(f, out);
  out.append(f.data);
}

}  // namespace recording_record_internal

void AppendCanonicalBytes(const RecordFields& f, std::string& out) {
  FieldsView v;
  CopySharedFields(f, v);
  AppendCanonical(v, out);
}

void AppendCanonicalBytes(const v1::RecordingRecord& record, std::string& out) {
  AppendCanonical(ViewOf(record), out);
}

absl::StatusOr<RecordFields> ParseCanonicalBytes(std::string_view bytes) {
  if (bytes.size() > kMaxCanonicalRecordBytes) {
    return absl::DataLossError("record is longer than the limit");
  }
  Reader r(bytes);
  RecordFields f;
  std::string domain;
  uint64_t offset = 0, v1 = 0, v2 = 0;
  if (!r.Str(domain, kDomain.size()) || domain != kDomain ||
      !r.Str(f.session_id, kMaxRecordNameBytes) || !r.U64(f.seq) ||
      !r.U32(f.channel_id) || !r.U64(offset) || !r.Str(f.kind, 64) ||
      !r.Str(f.direction, 64) || !r.U32(f.stream) ||
      !r.Str(f.name, kMaxRecordNameBytes) ||
      !r.Str(f.summary, kMaxRecordSummaryBytes) || !r.U64(v1) || !r.U64(v2) ||
      !r.Str(f.data, kMaxRecordDataBytes) || !r.empty()) {
    return absl::DataLossError("malformed recording record");
  }
  f.offset_us = static_cast<int64_t>(offset);
  f.value1 = static_cast<int64_t>(v1);
  f.value2 = static_cast<int64_t>(v2);
  return f;
}

absl::StatusOr<std::optional<uint64_t>> CanonicalLengthOfPrefix(
    std::string_view prefix) {
  size_t at = 0;
  bool short_input = false;
  // A length-prefixed string of at most `max` bytes; false when the
  // prefix ends first (short_input) or the length is over `max`.
  auto str = [&](size_t max, std::string_view want = {}) {
    if (prefix.size() - at < 4) return !(short_input = true);
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) {
      n = (n << 8) | static_cast<uint8_t>(prefix[at + i]);
    }
    if (n > max) return false;
    at += 4;
    if (!want.empty()) {
      const std::string_view have = prefix.substr(at, n);
      if (n != want.size() || have != want.substr(0, have.size())) {
        return false;
      }
    }
    if (prefix.size() - at < n) {
      at = prefix.size();
      return !(short_input = true);
    }
    at += n;
    return true;
  };
  auto fixed = [&](size_t n) {
    if (prefix.size() - at < n) return !(short_input = true);
    at += n;
    return true;
  };
  const bool ok = str(kDomain.size(), kDomain) && str(kMaxRecordNameBytes) &&
                  fixed(8 + 4 + 8) && str(64) && str(64) && fixed(4) &&
                  str(kMaxRecordNameBytes) && str(kMaxRecordSummaryBytes) &&
                  fixed(8 + 8);
  if (!ok || prefix.size() - at < 4) {
    if (short_input || (ok && prefix.size() - at < 4)) {
      return std::optional<uint64_t>();
    }
    return absl::DataLossError("malformed recording record");
  }
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) {
    n = (n << 8) | static_cast<uint8_t>(prefix[at + i]);
  }
  if (n > kMaxRecordDataBytes) {
    return absl::DataLossError("malformed recording record");
  }
  return std::optional<uint64_t>(at + 4 + uint64_t{n});
}

}  // namespace sallyport::audit
