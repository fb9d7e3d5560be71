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
// Utf8SequenceLength, and when it is not 0 the code point in `*cp`.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp);

// Whether a terminal shows `cp` as visible text (or as a visible space):
// true for letters, marks, digits, punctuation, symbols and spaces of every
// script (Unicode's Graphic: L, M, N, P, S, Zs), U+0020 included. False for
// what can make the text a person reads differ from the text stored
// (Trojan Source, CVE-2021-42574):
//   Cc  controls: C0, DEL, C1 (U+0080..U+009F);
//   Cf  format characters: the bidirectional controls (U+061C, U+200E,
//       U+200F, U+202A..U+202E, U+2066..U+2069), zero-width ones (U+200B
//       ZWSP, U+200C ZWNJ, U+200D ZWJ, U+2060..U+2064, U+FEFF BOM), the
//       soft hyphen U+00AD, U+180E, the interlinear annotations
//       U+FFF9..U+FFFB, the tags U+E0001 and U+E0020..U+E007F, and the few
//       visible ones too (Arabic number signs U+0600..U+0605, U+06DD, ...:
//       all of Cf, so the rule is a Unicode category, not a judgment);
//   Zl, Zp  U+2028, U+2029 (they break lines);
//   Co  private use (U+E000..U+F8FF, planes 15 and 16): no agreed glyph;
//   Cs  surrogates (never valid UTF-8 anyway);
//   noncharacters: U+FDD0..U+FDEF and the last two code points of every
//       plane (U+FFFE, U+FFFF, U+1FFFE, ...);
//   and what Unicode marks Default_Ignorable_Code_Point, which renders as
//   nothing though not Cf: U+034F, the Hangul fillers U+115F, U+1160,
//   U+3164, U+FFA0, U+17B4, U+17B5, and the variation selectors
//   (U+180B..U+180F, U+FE00..U+FE0F, U+E0100..U+E01EF): invisible, they
//   make two names that look alike differ, so they are refused too (an
//   emoji written with U+FE0F or a ZWJ sequence is refused; write it
//   without).
// Other unassigned code points are taken (a terminal shows a visible box
// for them; a table of every assigned one would follow each Unicode
// version). Code points above U+10FFFF are false.
bool IsGraphicCodePoint(char32_t cp);

// `s` for a terminal, readable in any language: UTF-8 whose code points
// are graphic (IsGraphicCodePoint) stays; every other code point (C0, DEL,
// C1, bidirectional controls such as U+202E, zero-width and other
// invisible characters, line separators, private use), every byte that is
// not UTF-8, and the backslash become "\xNN", one per byte (U+202E is
// "\xe2\x80\xae"), so the stored bytes can be read back exactly. Never
// contains an escape sequence, a line break or a character that reorders
// or hides text, so text a user chose (a recorded command) cannot forge
// lines, drive the reader's terminal or read differently from what it is.
std::string EscapeControls(std::string_view s);
// EscapeControls for a message its author already escaped (a CA's error,
// which writes a name a user chose as "\x20" for a space): as safe for a
// terminal, but a backslash stays, so "\x20" is not shown as "\x5cx20".
// Not exact (a literal "\x1b" reads as an escaped ESC would): for
// messages, not for stored data.
std::string EscapeControlsInMessage(std::string_view s);
// The same for the first `max` bytes of `s`, with "..." when it was longer.
std::string EscapeControlsInMessage(std::string_view s, size_t max);
bool IsValidUtf8(std::string_view s);
// Whether `s` is valid UTF-8 whose code points are all graphic
// (IsGraphicCodePoint): no controls (newlines, escapes, C1), no
// bidirectional controls, no invisible characters. For text a person reads
// in a terminal as it is stored (display names, label values, role
// descriptions). Text stored before this rule is shown through
// EscapeControls.
bool IsPrintableUtf8(std::string_view s);
// Whether `s` is valid UTF-8 without controls (C0, DEL, C1); bidirectional
// and invisible characters are taken. For text that is never shown
// (passwords: refusing more would refuse passwords people can type).
bool IsUtf8WithoutControls(std::string_view s);

// The columns a terminal gives `s` (for aligning tables): a code point
// takes one, a wide one two (CJK ideographs, Hangul, kana, fullwidth
// forms, most emoji: East Asian Width W and F), a combining mark none; a
// byte that starts no valid UTF-8 sequence one. Not `s.size()`: a label
// value "ünïcødé" (11 bytes, 7 columns) pushed the next column 4 to the
// right.
size_t DisplayWidth(std::string_view s);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_SAFE_TEXT_H_
