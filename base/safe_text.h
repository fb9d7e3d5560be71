// Peer- or user-supplied text made printable for a log line or an error
// message: printable ASCII stays, everything else (and the backslash, so the
// escape cannot be forged) becomes "\xNN". At most `max` input bytes are
// shown; "..." marks a cut.
#ifndef SALLYPORT_BASE_SAFE_TEXT_H_
#define SALLYPORT_BASE_SAFE_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace sallyport::base {

inline constexpr size_t kSafeTextDefaultMax = 256;

std::string SafeText(std::string_view s, size_t max = kSafeTextDefaultMax);

// The length (1..4) of the valid UTF-8 sequence starting at s[i] (i <
// s.size()), or 0 when none starts there (overlong forms, surrogates and
// code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i);
// `s` for a terminal, readable in any language: printable UTF-8 stays,
// control characters (C0, DEL, C1), bytes that are not UTF-8 and the
// backslash become "\xNN". Never contains an escape sequence or a line
// break, so text a user chose (a recorded command) cannot forge lines or
// drive the reader's terminal.
std::string EscapeControls(std::string_view s);
bool IsValidUtf8(std::string_view s);
// Whether `s` is valid UTF-8 without control characters: no C0 (newlines,
// escapes), DEL or C1 (U+0080..U+009F, which terminals may take as escape
// sequences too). For text a person reads in a terminal as it is stored
// (display names, label values).
bool IsPrintableUtf8(std::string_view s);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_SAFE_TEXT_H_
