// Fuzz target: the CA's parsers of bytes it does not control. The first
// byte picks the parser, the rest is its input:
//   0  PublicKeyFromDer (Login's tls_public_key_der, from the network);
//      whatever parses must re-encode to the same DER
//   1  ParsePasswordHash (a hash read from the store)
//   2  YamlToProto into CaConfig (a config file); errors must carry a line
//   3  Base32Decode (TOTP secrets); whatever decodes must survive a round
//      trip
//   4  CertificateFromPem + InspectCertificate (peer certificates)
//   5  PeerAddress (gRPC peer strings)
// Any broken invariant aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "ca/password_hash.h"
#include "ca/service_util.h"
#include "ca/tls_material.h"
#include "ca/totp.h"
#include "ca/yaml_proto.h"
#include "proto/config.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sallyport::ca;  // NOLINT: a fuzz entry point
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto key = PublicKeyFromDer(input);
      if (key.ok()) {
        auto der = PublicKeyToDer(key->get());
        if (!der.ok() || *der != input) abort();
      }
      break;
    }
    case 1:
      (void)ParsePasswordHash(input);
      break;
    case 2: {
      sallyport::config::CaConfig config;
      absl::Status st = YamlToProto(input, "fuzz.yaml", &config);
      if (!st.ok() &&
          !absl::StartsWith(std::string(st.message()), "fuzz.yaml:")) {
        abort();
      }
      break;
    }
    case 3: {
      auto decoded = Base32Decode(input);
      if (decoded.ok()) {
        auto again = Base32Decode(Base32Encode(decoded->span()));
        if (!again.ok() || !again->Equals(*decoded)) abort();
      }
      break;
    }
    case 4: {
      auto cert = CertificateFromPem(input);
      if (cert.ok()) (void)InspectCertificate(cert->get());
      break;
    }
    case 5:
      (void)PeerAddress(input);
      break;
  }
  return 0;
}
