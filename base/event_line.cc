#include "base/event_line.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/safe_text.h"

namespace sallyport::base {
namespace {

void AppendUnicodeEscape(std::string* out, char32_t cp);

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    char32_t cp = 0;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0) {
      out->append("\xef\xbf\xbd");
      ++i;
    } else if (!IsGraphicCodePoint(cp)) {
      // Controls (C0, DEL, C1) and the characters that reorder or hide
      // text (bidi overrides, zero-width): as \uXXXX, so that a log read
      // in a terminal shows what a peer sent (a request type
      // "rtl<U+202E>exe.txt" was written raw).
      AppendUnicodeEscape(out, cp);
      i += len;
    } else {
      out->append(s.substr(i, len));
      i += len;
    }
  }
  out->push_back('"');
}

void AppendJsonValue(std::string* out, const LogValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    AppendJsonString(out, *s);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    absl::StrAppend(out, *i);
  } else if (const auto* b = std::get_if<bool>(&value)) {
    out->append(*b ? "true" : "false");
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
    out->push_back('[');
    for (size_t k = 0; k < list->size(); ++k) {
      if (k > 0) out->push_back(',');
      AppendJsonString(out, (*list)[k]);
    }
    out->push_back(']');
  }
}

// \uXXXX for `cp` (UTF-16: a surrogate pair above U+FFFF).
void AppendUnicodeEscape(std::string* out, char32_t cp) {
  if (cp > 0xFFFF) {
    const char32_t v = cp - 0x10000;
    AppendUnicodeEscape(out, 0xD800 + (v >> 10));
    AppendUnicodeEscape(out, 0xDC00 + (v & 0x3FF));
    return;
  }
  absl::StrAppend(out, absl::StrFormat("\\u%04x", static_cast<uint32_t>(cp)));
}

}  // namespace

std::string JsonForTerminal(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < json.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(json, i, &cp);
    if (len == 0) {
      AppendUnicodeEscape(&out, static_cast<unsigned char>(json[i]));
      escaped = false;
      ++i;
      continue;
    }
    const std::string_view bytes = json.substr(i, len);
    i += len;
    if (!IsGraphicCodePoint(cp)) {
      if (!in_string && (cp == '\t' || cp == '\n' || cp == '\r')) {
        out.push_back(' ');
      } else {
        AppendUnicodeEscape(&out, cp);
      }
      escaped = false;
      continue;
    }
    out.append(bytes);
    if (escaped) {
      escaped = false;  // the character after a backslash
    } else if (in_string && cp == '\\') {
      escaped = true;
    } else if (cp == '"') {
      in_string = !in_string;
    }
  }
  return out;
}

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError("the log format is text or json");
}

std::string JsonObject(const std::vector<LogField>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, fields[i].first);
    out.push_back(':');
    AppendJsonValue(&out, fields[i].second);
  }
  out.push_back('}');
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

std::string FormatEventLine(LogFormat format, absl::Time time,
                            std::string_view event, std::string_view outcome,
                            const std::vector<LogField>& fields) {
  const std::string when =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  if (format == LogFormat::kJson) {
    std::vector<LogField> all = {{"time", when},
                                 {"event", std::string(event)},
                                 {"outcome", std::string(outcome)}};
    all.insert(all.end(), fields.begin(), fields.end());
    return JsonObject(all);
  }
  // The time, event and outcome are the program's own words; the event is
  // escaped all the same in case a caller builds it from input.
  std::string out = when;
  out.append(" event=");
  std::string quoted;
  AppendJsonString(&quoted, event);
  out.append(quoted.size() == event.size() + 2 &&
                     event.find(' ') == std::string_view::npos
                 ? event
                 : std::string_view(quoted));
  out.append(" outcome=");
  out.append(outcome);
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&out, " ", name, "=");
    AppendJsonValue(&out, value);
  }
  return out;
}

}  // namespace sallyport::base
