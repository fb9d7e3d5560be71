#include "ssh/wire/reader.h"

#include "absl/strings/str_cat.h"

namespace sallyport::ssh::wire {
namespace {

absl::Status Short(std::string_view what, size_t need, size_t have) {
  return absl::InvalidArgumentError(absl::StrCat(
      "truncated ", std::string(what), ": need ", need, " bytes, have ", have));
}

}  // namespace

absl::StatusOr<uint8_t> Reader::ReadByte() {
  if (remaining() < 1) return Short("byte", 1, remaining());
  return data_[pos_++];
}

absl::StatusOr<bool> Reader::ReadBool() {
  if (remaining() < 1) return Short("boolean", 1, remaining());
  return data_[pos_++] != 0;
}

absl::StatusOr<uint32_t> Reader::ReadUint32() {
  if (remaining() < 4) return Short("uint32", 4, remaining());
  const uint8_t* p = data_.data() + pos_;
  pos_ += 4;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

absl::StatusOr<uint64_t> Reader::ReadUint64() {
  if (remaining() < 8) return Short("uint64", 8, remaining());
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | data_[pos_ + i];
  pos_ += 8;
  return v;
}

absl::StatusOr<Bytes> Reader::ReadRaw(size_t n) {
  if (remaining() < n) return Short("field", n, remaining());
  Bytes out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<Bytes> Reader::ReadString(uint32_t max_length) {
  if (remaining() < 4) return Short("string length", 4, remaining());
  const uint8_t* p = data_.data() + pos_;
  uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                 (uint32_t{p[2]} << 8) | uint32_t{p[3]};
  if (len > max_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "string of ", len, " bytes exceeds the limit of ", max_length));
  }
  // remaining() >= 4 here, so the subtraction cannot wrap.
  if (remaining() - 4 < len) return Short("string", len, remaining() - 4);
  Bytes out = data_.subspan(pos_ + 4, len);
  pos_ += 4 + size_t{len};
  return out;
}

absl::StatusOr<std::string_view> Reader::ReadStringView(uint32_t max_length) {
  auto s = ReadString(max_length);
  if (!s.ok()) return s.status();
  return AsStringView(*s);
}

absl::StatusOr<std::string_view> Reader::ReadCString(uint32_t max_length) {
  const size_t start = pos_;
  auto s = ReadString(max_length);
  if (!s.ok()) return s.status();
  for (uint8_t c : *s) {
    if (c == 0) {
      pos_ = start;
      return absl::InvalidArgumentError("string contains a NUL byte");
    }
  }
  return AsStringView(*s);
}

absl::StatusOr<Bytes> Reader::ReadMpint(uint32_t max_bytes) {
  const size_t start = pos_;
  // One extra byte allows the 0x00 that keeps a positive number's top bit
  // clear.
  uint32_t cap = max_bytes >= UINT32_MAX - 1 ? UINT32_MAX : max_bytes + 1;
  auto s = ReadString(cap);
  if (!s.ok()) return s.status();
  Bytes v = *s;
  auto fail = [&](std::string_view why) {
    pos_ = start;
    return absl::InvalidArgumentError(
        absl::StrCat("bad mpint: ", std::string(why)));
  };
  if (v.empty()) return v;
  if (v[0] & 0x80) return fail("negative");
  if (v[0] == 0) {
    if (v.size() == 1 || !(v[1] & 0x80)) return fail("non-minimal encoding");
    v = v.subspan(1);
  }
  if (v.size() > max_bytes) return fail("too large");
  return v;
}

absl::StatusOr<std::vector<std::string>> Reader::ReadNameList(
    size_t max_entries) {
  const size_t start = pos_;
  auto s = ReadString(kMaxNameListLength);
  if (!s.ok()) return s.status();
  auto fail = [&](std::string_view why) {
    pos_ = start;
    return absl::InvalidArgumentError(
        absl::StrCat("bad name-list: ", std::string(why)));
  };
  std::vector<std::string> names;
  if (s->empty()) return names;
  std::string_view text = AsStringView(*s);
  size_t begin = 0;
  while (true) {
    size_t comma = text.find(',', begin);
    std::string_view name = text.substr(begin, comma == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : comma - begin);
    if (name.empty()) return fail("empty name");
    if (name.size() > kMaxNameLength) return fail("name too long");
    for (char c : name) {
      if (c <= 0x20 || c >= 0x7f) return fail("non-printable character");
    }
    if (names.size() >= max_entries) return fail("too many names");
    names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return names;
}

absl::Status Reader::ExpectEnd() const {
  if (remaining() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(remaining(), " unexpected trailing bytes"));
  }
  return absl::OkStatus();
}

}  // namespace sallyport::ssh::wire
