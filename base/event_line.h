// One structured log line per event, shared by the daemons (DESIGN.md §10:
// "structured logs, text or JSON, UTC, one line per event, never a
// secret"): the CA's audit event lines and the gateway's connection, auth
// and channel lines look the same.
//
//   kText: 2026-11-30T05:30:00.123456Z event=login.failed outcome=failure
//          actor="admin" source="127.0.0.1" reason="bad-password"
//   kJson: {"time":"2026-11-30T05:30:00.123456Z","event":"login.failed",
//           "outcome":"failure","actor":"admin",...}
//
// Values are escaped as JSON strings in both formats (control characters,
// bidirectional controls and invisible characters as \uXXXX: what
// IsGraphicCodePoint refuses; invalid UTF-8 replaced by U+FFFD), so
// nothing a peer sends can start a new line, forge a field or reorder
// what a terminal shows. Field names are the program's own
// identifiers. Callers never pass secrets.
#ifndef SALLYPORT_BASE_EVENT_LINE_H_
#define SALLYPORT_BASE_EVENT_LINE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::base {

enum class LogFormat { kText, kJson };
// "text" or "json". kInvalidArgument otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view text);

// One field: a string, an integer, a boolean or a list of strings.
using LogValue =
    std::variant<std::string, int64_t, bool, std::vector<std::string>>;
using LogField = std::pair<std::string, LogValue>;

// {"k":"v",...} in the order given, always valid JSON.
std::string JsonObject(const std::vector<LogField>& fields);
// `s` as a JSON string literal, escaped as JsonObject escapes values
// (characters that are not graphic as \uXXXX, invalid UTF-8 as U+FFFD).
std::string JsonString(std::string_view s);

// `json` (a JSON text as stored: an audit event's payload) for a
// terminal: inside strings, every code point that is not graphic
// (IsGraphicCodePoint: C0, DEL, C1, bidirectional controls such as
// U+202E, invisible characters) becomes a \uXXXX escape (a surrogate pair
// above U+FFFF), and so does each byte that is not UTF-8 (\u00NN, its
// value); between tokens, a tab or line break becomes a space and any
// other such code point or byte is escaped the same way. Valid JSON stays
// valid JSON with the same value (a byte that was not UTF-8 reads as the
// code point of its value). Never contains a control character, an escape
// sequence or a character that reorders or hides text.
std::string JsonForTerminal(std::string_view json);

// The line (no newline): the UTC time with microseconds, `event`, `outcome`
// ("success"/"failure"), then `fields` in order.
std::string FormatEventLine(LogFormat format, absl::Time time,
                            std::string_view event, std::string_view outcome,
                            const std::vector<LogField>& fields);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_EVENT_LINE_H_
