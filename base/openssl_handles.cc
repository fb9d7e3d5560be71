#include "base/openssl_handles.h"

#include <openssl/err.h>

namespace sallyport::base {

std::string OpenSslErrorString() {
  std::string out;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace sallyport::base
