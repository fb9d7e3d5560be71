#include "audit/asciicast.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/event_line.h"

namespace sallyport::audit {
namespace {

// The shared escaper: control characters as \u00XX, invalid UTF-8 as
// U+FFFD.
using base::JsonString;

// The length of the longest prefix of `s` that does not end inside a UTF-8
// sequence that later bytes could complete.
size_t CompletePrefix(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xc0) == 0x80) continue;  // a continuation byte: look further
    size_t need = (c & 0xe0) == 0xc0   ? 2
                  : (c & 0xf0) == 0xe0 ? 3
                  : (c & 0xf8) == 0xf0 ? 4
                                       : 1;
    return need > back ? n - back : n;
  }
  return n;
}

std::string Seconds(absl::Duration at) {
  return absl::StrFormat("%.6f", absl::ToDoubleSeconds(at));
}

}  // namespace

std::string AsciicastWriter::Header(uint32_t width, uint32_t height,
                                    absl::Time timestamp,
                                    std::string_view title) {
  return absl::StrCat(
      base::JsonObject({{"version", int64_t{2}},
                        {"width", int64_t{width}},
                        {"height", int64_t{height}},
                        {"timestamp", absl::ToUnixSeconds(timestamp)},
                        {"title", std::string(title)}}),
      "\n");
}

std::string AsciicastWriter::Event(absl::Duration at, std::string_view code,
                                   std::string_view data) {
  std::string& pending = code == "i" ? pending_i_ : pending_o_;
  pending.append(data.data(), data.size());
  const size_t n = CompletePrefix(pending);
  if (n == 0 && pending.size() < 4) return "";
  const size_t take = n == 0 ? pending.size() : n;
  std::string line =
      absl::StrCat("[", Seconds(at), ", ", JsonString(code), ", ",
                   JsonString(pending.substr(0, take)), "]\n");
  pending.erase(0, take);
  return line;
}

std::string AsciicastWriter::Flush(absl::Duration at) {
  std::string lines;
  for (const auto& [code, pending] :
       {std::pair<std::string_view, std::string*>{"o", &pending_o_},
        {"i", &pending_i_}}) {
    if (pending->empty()) continue;
    absl::StrAppend(&lines, "[", Seconds(at), ", ", JsonString(code), ", ",
                    JsonString(*pending), "]\n");
    pending->clear();
  }
  return lines;
}

std::string AsciicastWriter::Resize(absl::Duration at, uint32_t width,
                                    uint32_t height) {
  return absl::StrCat("[", Seconds(at), ", \"r\", \"", width, "x", height,
                      "\"]\n");
}

}  // namespace sallyport::audit
