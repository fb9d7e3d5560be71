#include "ssh/crypto/hash.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace sallyport::ssh::crypto {
namespace {

// A failing digest means OpenSSL is broken or out of memory; there is no
// safe value to return, and every caller would treat a wrong hash as valid
// input, so stop.
[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "sallyport: fatal OpenSSL digest failure: %s\n", what);
  std::abort();
}

// Fetched once per process and deliberately never freed: fetching on every
// call costs a provider lookup, and freeing at exit could race with threads
// still hashing.
const EVP_MD* FetchOnce(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) Fatal(name);
  return md;
}

const EVP_MD* Md(HashAlgorithm alg) {
  static const EVP_MD* const kSha256 = FetchOnce("SHA2-256");
  static const EVP_MD* const kSha512 = FetchOnce("SHA2-512");
  return alg == HashAlgorithm::kSha256 ? kSha256 : kSha512;
}

}  // namespace

size_t DigestLength(HashAlgorithm alg) {
  return alg == HashAlgorithm::kSha256 ? 32 : 64;
}

std::vector<uint8_t> Hash(HashAlgorithm alg, Bytes data) {
  std::vector<uint8_t> out(DigestLength(alg));
  unsigned int len = 0;
  static const uint8_t kEmpty = 0;
  const uint8_t* p = data.empty() ? &kEmpty : data.data();
  if (EVP_Digest(p, data.size(), out.data(), &len, Md(alg), nullptr) != 1 ||
      len != out.size()) {
    Fatal("EVP_Digest");
  }
  return out;
}

std::vector<uint8_t> Sha256(Bytes data) {
  return Hash(HashAlgorithm::kSha256, data);
}

std::vector<uint8_t> Sha512(Bytes data) {
  return Hash(HashAlgorithm::kSha512, data);
}

Hasher::Hasher(HashAlgorithm alg) : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr ||
      EVP_DigestInit_ex2(ctx_.get(), Md(alg), nullptr) != 1) {
    Fatal("EVP_DigestInit_ex2");
  }
}

Hasher& Hasher::Update(Bytes data) {
  if (ctx_ == nullptr) Fatal("Hasher::Update after Finish");
  if (!data.empty() &&
      EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
    Fatal("EVP_DigestUpdate");
  }
  return *this;
}

std::vector<uint8_t> Hasher::Finish() {
  if (ctx_ == nullptr) Fatal("Hasher::Finish called twice");
  std::vector<uint8_t> out(
      static_cast<size_t>(EVP_MD_CTX_get_size(ctx_.get())));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 ||
      len != out.size()) {
    Fatal("EVP_DigestFinal_ex");
  }
  ctx_.reset();
  return out;
}

}  // namespace sallyport::ssh::crypto
