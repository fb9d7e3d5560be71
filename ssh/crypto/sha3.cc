#include "ssh/crypto/sha3.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "base/openssl_handles.h"

namespace sallyport::ssh::crypto {
namespace {

// As in hash.cc: a failing digest leaves no safe value to return.
[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "sallyport: fatal OpenSSL SHA-3 failure: %s\n", what);
  std::abort();
}

// Fetched once per process and never freed (see hash.cc).
const EVP_MD* FetchOnce(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) Fatal(name);
  return md;
}

void Digest(const EVP_MD* md, bool xof, Parts parts, uint8_t* out,
            size_t out_len) {
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) {
    Fatal("EVP_DigestInit_ex2");
  }
  for (absl::Span<const uint8_t> part : parts) {
    if (!part.empty() &&
        EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) {
      Fatal("EVP_DigestUpdate");
    }
  }
  if (xof) {
    if (EVP_DigestFinalXOF(ctx.get(), out, out_len) != 1) {
      Fatal("EVP_DigestFinalXOF");
    }
    return;
  }
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out, &len) != 1 || len != out_len) {
    Fatal("EVP_DigestFinal_ex");
  }
}

}  // namespace

void Sha3_256(Parts parts, uint8_t out[32]) {
  static const EVP_MD* const kMd = FetchOnce("SHA3-256");
  Digest(kMd, false, parts, out, 32);
}

void Sha3_512(Parts parts, uint8_t out[64]) {
  static const EVP_MD* const kMd = FetchOnce("SHA3-512");
  Digest(kMd, false, parts, out, 64);
}

void Shake128(Parts parts, uint8_t* out, size_t out_len) {
  static const EVP_MD* const kMd = FetchOnce("SHAKE-128");
  Digest(kMd, true, parts, out, out_len);
}

void Shake256(Parts parts, uint8_t* out, size_t out_len) {
  static const EVP_MD* const kMd = FetchOnce("SHAKE-256");
  Digest(kMd, true, parts, out, out_len);
}

}  // namespace sallyport::ssh::crypto
