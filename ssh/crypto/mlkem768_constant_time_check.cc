// Constant-time check of ML-KEM-768 Decaps (the ctgrind technique): the
// secret parts of the decapsulation key (dk_pke and z) are marked undefined
// for valgrind's memcheck, which then reports any branch or memory index
// that depends on them. Run by mlkem768_constant_time_test under
// `valgrind --error-exitcode`; both the accepting and the implicit-rejection
// path are exercised. Outside valgrind the marks are no-ops.
#include <valgrind/memcheck.h>

#include <cstdio>
#include <vector>

#include "ssh/crypto/mlkem768.h"

using namespace sallyport::ssh::crypto::mlkem768;

int main() {
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
    VALGRIND_MAKE_MEM_DEFINED(k->data(), k->size());
    // The result must still be right: shared secret, or a different key.
    if (k->Equals(enc->shared_secret) == (modified == 1)) return 2;
  }
  std::printf("Decaps: no secret-dependent branch or index reported\n");
  return 0;
}
