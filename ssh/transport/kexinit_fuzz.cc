// Fuzz target: KEXINIT parsing and negotiation against our own proposal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ssh/crypto/cipher.h"
#include "ssh/transport/kex.h"
#include "ssh/transport/messages.h"

using namespace sallyport::ssh::transport;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto msg = KexInitMsg::Parse(absl::MakeConstSpan(data, size));
  if (!msg.ok()) return 0;
  // Round trip: the canonical form (booleans as 0/1) is stable. The input
  // itself may differ (RFC 4251: any non-zero boolean is TRUE); the
  // exchange hash always uses the peer's raw bytes.
  std::vector<uint8_t> canonical = msg->Serialize();
  auto reparsed = KexInitMsg::Parse(canonical);
  if (!reparsed.ok() || reparsed->Serialize() != canonical) abort();
  if (reparsed->kex_algorithms != msg->kex_algorithms ||
      reparsed->first_kex_packet_follows != msg->first_kex_packet_follows) {
    abort();
  }
  KexInitMsg ours;
  ours.kex_algorithms = SupportedKexAlgorithms();
  ours.server_host_key_algorithms = {"ssh-ed25519"};
  ours.encryption_c2s = ours.encryption_s2c =
      sallyport::ssh::crypto::SupportedCiphers();
  ours.mac_c2s = ours.mac_s2c = sallyport::ssh::crypto::SupportedMacs();
  ours.compression_c2s = ours.compression_s2c = {"none"};
  for (bool we_are_client : {false, true}) {
    auto algs = we_are_client ? Negotiate(ours, *msg) : Negotiate(*msg, ours);
    if (!algs.ok()) continue;
    // Whatever is negotiated must be something we offered.
    if (IsPseudoKexAlgorithm(algs->kex)) abort();
    if (!sallyport::ssh::crypto::LookupCipher(algs->cipher_c2s).ok()) abort();
  }
  return 0;
}
