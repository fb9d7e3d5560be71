// Constant-time check of ML-KEM-768 Decaps (the ctgrind technique): the
// secret parts of the decapsulation key (dk_pke and z) are marked undefined
// for valgrind's memcheck, which then reports any branch or memory index
// that depends on them. Run by mlkem768_constant_time_test under
// `valgrind --error-exitcode`; both the accepting and the implicit-rejection
// path are exercised. Outside valgrind the marks are no-ops.
//
// `--plant=branch` / `--plant=index` add a deliberately leaky step after
// Decaps (a branch on, or a table index by, a byte of the shared secret it
// returned); `--plant=masked` adds the same step written with masks.
// mlkem768_constant_time_negative_test runs them to prove the check can
// fail: the secret's undefinedness reaches Decaps' output, and memcheck
// reports both kinds of leak while the masked form stays clean.
#include <valgrind/memcheck.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ssh/crypto/mlkem768.h"

using namespace sallyport::ssh::crypto::mlkem768;

namespace {

enum class Plant { kNone, kBranch, kIndex, kMasked };

volatile unsigned g_sink = 0;

// Runs after Decaps, while the shared secret is still undefined.
void PlantedStep(Plant plant, const uint8_t* secret) {
  static const uint8_t kTable[256] = {1, 2, 3};
  switch (plant) {
    case Plant::kNone:
      return;
    case Plant::kBranch:
      // An early-exit comparison, the classic leak in a KEM's re-encryption
      // check.
      for (int i = 0; i < 32; ++i) {
        if (secret[i] != 0x5a) break;
        g_sink = g_sink + 1;
      }
      return;
    case Plant::kIndex:
      g_sink = kTable[secret[0]];
      return;
    case Plant::kMasked: {
      unsigned diff = 0;
      for (int i = 0; i < 32; ++i) diff |= secret[i] ^ 0x5a;
      const unsigned equal = ((diff | (0u - diff)) >> 31) ^ 1u;  // 1 if same
      g_sink = g_sink + equal;
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Plant plant = Plant::kNone;
  if (argc == 2) {
    const std::string arg = argv[1];
    if (arg == "--plant=branch") {
      plant = Plant::kBranch;
    } else if (arg == "--plant=index") {
      plant = Plant::kIndex;
    } else if (arg == "--plant=masked") {
      plant = Plant::kMasked;
    } else {
      std::fprintf(stderr, "usage: %s [--plant=branch|index|masked]\n",
                   argv[0]);
      return 2;
    }
  } else if (argc != 1) {
    return 2;
  }
  auto kp = GenerateKeyPair();
  if (!kp.ok()) return 1;
  auto enc = Encapsulate(kp->encapsulation_key);
  if (!enc.ok()) return 1;
  auto span = kp->decapsulation_key.span();
  std::vector<uint8_t> dk(span.begin(), span.end());
  for (int modified = 0; modified < 2; ++modified) {
    std::vector<uint8_t> ct = enc->ciphertext;
    if (modified) ct[5] ^= 1;
    VALGRIND_MAKE_MEM_UNDEFINED(dk.data(), 1152);            // dk_pke
    VALGRIND_MAKE_MEM_UNDEFINED(dk.data() + 2400 - 32, 32);  // z
    auto k = Decapsulate(dk, ct);
    VALGRIND_MAKE_MEM_DEFINED(dk.data(), dk.size());
    if (!k.ok()) return 1;
    PlantedStep(plant, k->data());
    VALGRIND_MAKE_MEM_DEFINED(k->data(), k->size());
    // The result must still be right: shared secret, or a different key.
    if (k->Equals(enc->shared_secret) == (modified == 1)) return 2;
  }
  std::printf("Decaps: no secret-dependent branch or index reported\n");
  return 0;
}
