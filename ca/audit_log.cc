#include "ca/audit_log.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace sallyport::ca {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  uint32_t cp = c & (0xff >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
      ++i;
    } else {
      const size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out->append("\xef\xbf\xbd");
        ++i;
      } else {
        out->append(s.substr(i, len));
        i += len;
      }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string AuditPayloadJson(const std::vector<AuditField>& fields) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, name);
    out.push_back(':');
    if (const auto* s = std::get_if<std::string>(&value)) {
      AppendJsonString(&out, *s);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      absl::StrAppend(&out, *i);
    } else if (const auto* b = std::get_if<bool>(&value)) {
      out.append(*b ? "true" : "false");
    } else if (const auto* list =
                   std::get_if<std::vector<std::string>>(&value)) {
      out.push_back('[');
      for (size_t k = 0; k < list->size(); ++k) {
        if (k > 0) out.push_back(',');
        AppendJsonString(&out, (*list)[k]);
      }
      out.push_back(']');
    }
  }
  out.push_back('}');
  return out;
}

std::string EventLine(LogFormat format, absl::Time time, std::string_view type,
                      std::string_view actor,
                      const std::vector<AuditField>& fields) {
  bool failed = type.ends_with(".failed") || type.ends_with(".denied") ||
                type.ends_with(".refused") || type.ends_with(".locked");
  for (const auto& [name, value] : fields) {
    const auto* code = std::get_if<std::string>(&value);
    if (name == "code" && code != nullptr && *code != "OK") failed = true;
  }
  std::vector<AuditField> all = {
      {"time",
       absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone())},
      {"event", std::string(type)},
      {"outcome", failed ? "failure" : "success"},
      {"actor", actor.empty() ? "-" : std::string(actor)}};
  all.insert(all.end(), fields.begin(), fields.end());
  if (format == LogFormat::kJson) return AuditPayloadJson(all);
  std::string out;
  for (size_t i = 0; i < all.size(); ++i) {
    const auto* text = std::get_if<std::string>(&all[i].second);
    if (i > 0) out.push_back(' ');
    if (i < 3) {  // time, event, outcome: never need quoting
      if (i > 0) absl::StrAppend(&out, all[i].first, "=");
      out.append(*text);
      continue;
    }
    // key=<the JSON value>, so quotes and control characters are escaped
    // (the keys are the CA's own identifiers).
    const std::string one = AuditPayloadJson({{"", all[i].second}});
    absl::StrAppend(&out, all[i].first, "=", one.substr(4, one.size() - 5));
  }
  return out;
}

void AuditLog::WriteLine(std::string_view type, std::string_view actor,
                         const std::vector<AuditField>& fields) {
  if (write_line_) {
    write_line_(EventLine(line_format_, absl::Now(), type, actor, fields));
  }
}

storage::AuditEventInput AuditLog::Event(
    std::string_view type, std::string_view actor,
    const std::vector<AuditField>& fields) {
  storage::AuditEventInput event;
  event.type = std::string(type);
  event.actor = actor.empty() ? "-" : std::string(actor);
  event.payload_json = AuditPayloadJson(fields);
  if (!event.Validate().ok()) {
    // Replaced only if the actor is what the store would refuse.
    storage::AuditEventInput replaced = event;
    replaced.actor = "(invalid)";
    if (replaced.Validate().ok()) return replaced;
  }
  return event;
}

absl::Status AuditLog::Record(std::string_view type, std::string_view actor,
                              const std::vector<AuditField>& fields) {
  WriteLine(type, actor, fields);
  return store_->AppendAuditEvent(Event(type, actor, fields)).status();
}

absl::Status AuditLog::RecordCertificate(
    const storage::IssuedCertificate& cert, std::string_view type,
    std::string_view actor, const std::vector<AuditField>& fields) {
  WriteLine(type, actor, fields);
  return store_->RecordCertificateWithAudit(cert, Event(type, actor, fields))
      .status();
}

}  // namespace sallyport::ca
