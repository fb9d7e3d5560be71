// asciicast v2 (asciinema's recording format): a header line, then one
// event line per record: [seconds since start, code, data], with code "o"
// (output), "i" (input) or "r" (resize, data "COLSxROWS"). Lines are JSON;
// data is always valid UTF-8 (a multi-byte character split across records
// is joined; invalid bytes become U+FFFD).
#ifndef SALLYPORT_AUDIT_ASCIICAST_H_
#define SALLYPORT_AUDIT_ASCIICAST_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace sallyport::audit {

class AsciicastWriter {
 public:
  // The header line (with newline).
  static std::string Header(uint32_t width, uint32_t height,
                            absl::Time timestamp, std::string_view title);
  // An event line (with newline), or "" when all of `data` is held back as
  // the start of a split character. `code` is "o" or "i".
  std::string Event(absl::Duration at, std::string_view code,
                    std::string_view data);
  std::string Resize(absl::Duration at, uint32_t width, uint32_t height);
  // Once the last event was written: the bytes still held back as the
  // start of a split character that never completed (the recording ended
  // inside it), as an event line per stream at `at`, each such byte as
  // U+FFFD (as invalid bytes are everywhere else); "" when none are held.
  std::string Flush(absl::Duration at);

 private:
  std::string pending_o_, pending_i_;
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_ASCIICAST_H_
