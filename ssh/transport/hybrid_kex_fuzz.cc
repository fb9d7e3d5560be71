// Fuzz target: the mlkem768x25519-sha256 messages. The first byte picks
// the receiver: 0 = our server reading a KEX_ECDH_INIT body (string C_INIT),
// 1 = our client reading the Q_S string of a KEX_ECDH_REPLY, 2/3 = raw
// ML-KEM-768 Encaps / Decaps on the rest, 4 = Decaps with a fuzzed
// decapsulation key (dk ‖ ciphertext: the §7.3 length and hash checks).
// Nothing may crash, and whatever is accepted must have the sizes the draft
// fixes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ssh/crypto/mlkem768.h"
#include "ssh/transport/kex_agreement.h"
#include "ssh/wire/reader.h"

using namespace sallyport::ssh;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t which = data[0] % 5;
  absl::Span<const uint8_t> rest(data + 1, size - 1);
  static const auto* const client =
      transport::KexAgreement::StartClient(transport::kMlKem768X25519)
          ->release();
  static const auto* const keys =
      new crypto::mlkem768::KeyPair(*crypto::mlkem768::GenerateKeyPair());
  switch (which) {
    case 0: {
      wire::Reader r(rest);
      auto q_c = r.ReadString(transport::kMaxKexClientValue);
      if (!q_c.ok() || !r.ExpectEnd().ok()) return 0;
      auto reply = transport::KexAgreement::ServerRespond(
          transport::kMlKem768X25519, *q_c);
      if (!reply.ok()) return 0;
      if (q_c->size() != transport::kMaxKexClientValue ||
          reply->server_value.size() != transport::kMaxKexServerValue ||
          reply->encoded_k.size() != 4 + 32) {
        abort();
      }
      return 0;
    }
    case 1: {
      wire::Reader r(rest);
      auto q_s = r.ReadString(transport::kMaxKexServerValue);
      if (!q_s.ok() || !r.ExpectEnd().ok()) return 0;
      auto k = client->ClientFinish(*q_s);
      if (!k.ok()) return 0;
      if (q_s->size() != transport::kMaxKexServerValue || k->size() != 4 + 32) {
        abort();
      }
      return 0;
    }
    case 2: {
      auto enc = crypto::mlkem768::Encapsulate(rest);
      if (!enc.ok()) return 0;
      auto back = crypto::mlkem768::Decapsulate(keys->decapsulation_key.span(),
                                                enc->ciphertext);
      // Against our own fixed key the secrets differ, but Decaps of a
      // well-formed ciphertext never fails.
      if (!back.ok() || enc->ciphertext.size() != 1088) abort();
      return 0;
    }
    case 3: {
      auto k =
          crypto::mlkem768::Decapsulate(keys->decapsulation_key.span(), rest);
      if (k.ok() != (rest.size() == crypto::mlkem768::kCiphertextSize)) {
        abort();
      }
      return 0;
    }
    default: {
      constexpr size_t kDk = crypto::mlkem768::kDecapsulationKeySize;
      const size_t dk_size = std::min(rest.size(), kDk);
      auto k = crypto::mlkem768::Decapsulate(rest.subspan(0, dk_size),
                                             rest.subspan(dk_size));
      if (!k.ok()) return 0;
      if (dk_size != kDk ||
          rest.size() != kDk + crypto::mlkem768::kCiphertextSize ||
          k->size() != crypto::mlkem768::kSharedSecretSize) {
        abort();
      }
      return 0;
    }
  }
}
