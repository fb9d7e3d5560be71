// Fuzz target: the gateway's config parsing. The first byte picks:
//   0  YamlToProto into GatewayConfig, then SettingsFromConfig; an error
//      from the YAML layer must carry "fuzz.yaml:LINE"; a config that
//      parses must survive ProtoToYaml -> YamlToProto unchanged
//   1  ParseMaxStartups: whatever parses satisfies its invariants
// Any broken invariant aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "base/yaml_proto.h"
#include "gateway/config.h"
#include "proto/config.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sallyport;  // NOLINT: a fuzz entry point
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  switch (data[0] % 2) {
    case 0: {
      config::GatewayConfig c;
      absl::Status st = base::YamlToProto(input, "fuzz.yaml", &c);
      if (!st.ok()) {
        if (!absl::StartsWith(std::string(st.message()), "fuzz.yaml:")) {
          abort();
        }
        break;
      }
      (void)gateway::SettingsFromConfig(c, "/fuzz");
      absl::StatusOr<std::string> yaml = base::ProtoToYaml(c);
      if (!yaml.ok()) break;  // e.g. invalid UTF-8 the emitter refuses
      config::GatewayConfig back;
      if (!base::YamlToProto(*yaml, "again.yaml", &back).ok() ||
          back.SerializeAsString() != c.SerializeAsString()) {
        abort();
      }
      break;
    }
    case 1: {
      absl::StatusOr<gateway::MaxStartups> m = gateway::ParseMaxStartups(input);
      if (m.ok() &&
          (m->start < 1 || m->full < m->start || m->rate < 1 || m->rate > 100 ||
           m->full > gateway::kMaxStartupsFullLimit)) {
        abort();
      }
      break;
    }
  }
  return 0;
}
