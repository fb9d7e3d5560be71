// Fuzz target: a whole server-side transport fed arbitrary bytes. Built
// against //ssh/transport:transport_for_fuzzing, where a client may
// negotiate the "none" cipher, so inputs can reach past key exchange
// without knowing any key. The first byte splits the input into chunks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "base/clock.h"
#include "ssh/crypto/keys.h"
#include "ssh/transport/transport.h"
#include "ssh/wire/writer.h"

using namespace sallyport::ssh;
using namespace sallyport::ssh::transport;

namespace {

const crypto::PrivateKey& HostKey() {
  static const auto* key =
      new crypto::PrivateKey(*crypto::PrivateKey::GenerateEd25519());
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 64 * 16;
  sallyport::base::FakeClock clock;
  TransportOptions o;
  o.role = Role::kServer;
  o.clock = &clock;
  o.host_keys.push_back(ServerHostKey{HostKey(), {}});
  o.fuzzing_allow_none_cipher = true;
  o.ciphers = {"none", "aes128-gcm@openssh.com"};
  o.rekey_bytes = 4096;
  auto t = Transport::Create(std::move(o));
  if (!t.ok()) abort();
  Transport& server = **t;
  for (size_t off = 1; off < size && !server.closed(); off += chunk) {
    server.Feed(absl::MakeConstSpan(data + off, std::min(chunk, size - off)));
    while (auto msg = server.Next()) {
      // A minimal service layer so inputs can walk through the phases.
      if ((*msg)[0] == kMsgServiceRequest) {
        (void)server.Send(
            SerializeServiceMsg(kMsgServiceAccept, "ssh-userauth"));
      } else if ((*msg)[0] == kMsgUserauthRequest) {
        const uint8_t success = kMsgUserauthSuccess;
        (void)server.Send(absl::MakeConstSpan(&success, 1));
      } else if ((*msg)[0] >= 80) {
        (void)server.Send(*msg);  // echo
      }
    }
    server.Consume(server.PendingOutput().size());
    clock.Advance(absl::Seconds(1));
    server.OnTimer();
  }
  return 0;
}
