// Fuzz target: the gateway's parser of the SSH user name LOGIN+HOST (peer
// bytes). Whatever parses must consist only of the allowed characters and
// re-join to the input; every error message must be printable ASCII.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "gateway/target_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto t = sallyport::gateway::ParseTarget(input);
  if (t.ok()) {
    if (absl::StrCat(t->login, "+", t->host) != input) abort();
    for (char c : input) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                      c == '_' || c == '+';
      if (!ok) abort();
    }
    if (t->host.size() > sallyport::gateway::kMaxHostNameBytes) abort();
  } else {
    for (char c : t.status().message()) {
      if (c < 0x20 || c >= 0x7f) abort();
    }
  }
  return 0;
}
