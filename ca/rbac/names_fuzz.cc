// Fuzz target: EscapeForReason and the reasons of the name checks, over
// any bytes. Any broken invariant aborts:
//   the echo is visible UTF-8 text (base::IsPrintableUtf8), in double
//   quotes, with no space, quote, '$', ';', '(', '`' or '\' inside other
//   than its own "\xNN" escapes;
//   read back, it is the input, or when the input is longer than
//   kMaxEchoBytes a prefix of it cut at most 3 bytes early (never inside a
//   UTF-8 sequence), followed by the full length;
//   every reason of ValidateHostName, ValidateInventoryName, ValidateLogin
//   and ValidateForwardDestination is visible UTF-8 text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "base/safe_text_testing.h"
#include "ca/rbac/names.h"

namespace sallyport::ca::rbac {
namespace {

void CheckEcho(std::string_view in) {
  const std::string echo = EscapeForReason(in);
  if (!base::IsPrintableUtf8(echo)) abort();
  if (echo.size() < 2 || echo[0] != '"') abort();
  const size_t close = echo.rfind('"');
  if (close == 0) abort();
  const std::string_view inner = std::string_view(echo).substr(1, close - 1);
  const std::string_view tail = std::string_view(echo).substr(close + 1);
  for (char c : std::string_view(" \"'$;(`")) {
    if (inner.find(c) != std::string_view::npos) abort();
  }
  const std::optional<std::string> read = base::UnescapeHex(inner);
  if (!read.has_value()) abort();
  const std::string& shown = *read;
  if (in.substr(0, shown.size()) != shown) abort();
  if (in.size() <= kMaxEchoBytes) {
    if (shown.size() != in.size() || !tail.empty()) abort();
    return;
  }
  if (shown.size() > kMaxEchoBytes || shown.size() + 3 < kMaxEchoBytes) {
    abort();
  }
  // The cut falls between characters (a byte that is not UTF-8 counts as
  // one), and what was left out starts one that would have crossed it.
  size_t at = 0;
  while (at < shown.size()) {
    const size_t n = base::Utf8SequenceLength(in, at);
    at += n == 0 ? 1 : n;
  }
  if (at != shown.size()) abort();
  const size_t next = base::Utf8SequenceLength(in, at);
  if (at + (next == 0 ? 1 : next) <= kMaxEchoBytes) abort();
  if (tail != absl::StrCat("... (", in.size(), " bytes)")) abort();
}

void FuzzOne(std::string_view in) {
  CheckEcho(in);
  for (const absl::Status& st :
       {ValidateHostName(in), ValidateInventoryName(in), ValidateLogin(in),
        ValidateForwardDestination(in, 22)}) {
    if (!base::IsPrintableUtf8(std::string(st.message()))) abort();
  }
}

}  // namespace
}  // namespace sallyport::ca::rbac

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sallyport::ca::rbac::FuzzOne(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
