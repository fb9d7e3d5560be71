#include "ssh/wire/writer.h"

namespace sallyport::ssh::wire {

Writer& Writer::Byte(uint8_t v) {
  out_->push_back(v);
  return *this;
}

Writer& Writer::Uint32(uint32_t v) {
  uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                  static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  out_->insert(out_->end(), b, b + 4);
  return *this;
}

Writer& Writer::Uint64(uint64_t v) {
  Uint32(static_cast<uint32_t>(v >> 32));
  return Uint32(static_cast<uint32_t>(v));
}

Writer& Writer::Raw(Bytes data) {
  out_->insert(out_->end(), data.begin(), data.end());
  return *this;
}

Writer& Writer::String(Bytes data) {
  Uint32(static_cast<uint32_t>(data.size()));
  return Raw(data);
}

Writer& Writer::Mpint(Bytes magnitude) {
  size_t skip = 0;
  while (skip < magnitude.size() && magnitude[skip] == 0) ++skip;
  Bytes v = magnitude.subspan(skip);
  if (v.empty()) return Uint32(0);
  bool pad = (v[0] & 0x80) != 0;
  Uint32(static_cast<uint32_t>(v.size() + (pad ? 1 : 0)));
  if (pad) Byte(0);
  return Raw(v);
}

Writer& Writer::NameList(const std::vector<std::string>& names) {
  size_t marker = BeginLength();
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) Byte(',');
    Raw(names[i]);
  }
  FinishLength(marker);
  return *this;
}

size_t Writer::BeginLength() {
  size_t marker = out_->size();
  Uint32(0);
  return marker;
}

void Writer::FinishLength(size_t marker) {
  uint32_t len = static_cast<uint32_t>(out_->size() - marker - 4);
  (*out_)[marker] = static_cast<uint8_t>(len >> 24);
  (*out_)[marker + 1] = static_cast<uint8_t>(len >> 16);
  (*out_)[marker + 2] = static_cast<uint8_t>(len >> 8);
  (*out_)[marker + 3] = static_cast<uint8_t>(len);
}

}  // namespace sallyport::ssh::wire
