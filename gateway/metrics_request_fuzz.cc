// Fuzz target: ParseMetricsRequest, the metrics endpoint's reading of an
// HTTP request head (peer bytes, gateway/metrics_server.h). Any broken
// invariant aborts:
//   /metrics and /healthz are answered only for a request line that is
//   exactly "GET", the path (optionally followed by a query), "HTTP/1.x";
//   405 only for one of the two paths;
//   only the request line counts: what follows its "\r\n" changes nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/metrics_server.h"

namespace {

using sallyport::gateway::MetricsRequest;
using sallyport::gateway::ParseMetricsRequest;

// Whether `line` is METHOD SP PATH[?QUERY] SP HTTP/1.x for `path`.
bool Names(std::string_view line, std::string_view method,
           std::string_view path) {
  if (!line.starts_with(method) || line.size() == method.size() ||
      line[method.size()] != ' ') {
    return false;
  }
  line.remove_prefix(method.size() + 1);
  if (!line.starts_with(path)) return false;
  line.remove_prefix(path.size());
  if (line.starts_with('?'))
    line.remove_prefix(line.find(' ') == line.npos ? line.size()
                                                   : line.find(' '));
  return line.starts_with(" HTTP/1.") &&
         line.find(' ', 1) == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view head(reinterpret_cast<const char*>(data), size);
  const MetricsRequest got = ParseMetricsRequest(head);
  const std::string_view line = head.substr(0, head.find("\r\n"));
  switch (got) {
    case MetricsRequest::kMetrics:
      if (!Names(line, "GET", "/metrics")) abort();
      break;
    case MetricsRequest::kHealth:
      if (!Names(line, "GET", "/healthz")) abort();
      break;
    case MetricsRequest::kMethodNotAllowed: {
      const size_t sp = line.find(' ');
      if (sp == std::string_view::npos || sp == 0) abort();
      const std::string_view method = line.substr(0, sp);
      if (method == "GET") abort();
      if (!Names(line, method, "/metrics") && !Names(line, method, "/healthz"))
        abort();
      break;
    }
    case MetricsRequest::kNotFound:
    case MetricsRequest::kBadRequest:
      if (Names(line, "GET", "/metrics") || Names(line, "GET", "/healthz"))
        abort();
      break;
  }
  if (ParseMetricsRequest(std::string(line) + "\r\n\r\n") != got) abort();
  return 0;
}
