#include "ca/password_hash.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/openssl_handles.h"
#include "base/safe_text.h"
#include "base/status_macros.h"

namespace sallyport::ca {

absl::Status CheckNewPassword(std::string_view password) {
  if (password.size() < kMinPasswordBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the password is too short: at least ", kMinPasswordBytes, " bytes"));
  }
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the password is too long: at most ", kMaxPasswordBytes, " bytes"));
  }
  // Controls only: a password is never shown, so bidirectional and
  // invisible characters cannot mislead a reader (IsPrintableUtf8 would
  // refuse a ZWJ emoji sequence someone can type).
  if (!base::IsUtf8WithoutControls(password)) {
    return absl::InvalidArgumentError(
        "the password must be UTF-8 text without control characters");
  }
  if (password.find_first_not_of(' ') == std::string_view::npos) {
    return absl::InvalidArgumentError("the password is only spaces");
  }
  return absl::OkStatus();
}
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMinSaltBytes = 8;
constexpr size_t kMinHashBytes = 16;
constexpr size_t kMaxPartBytes = 64;

using EvpKdfPtr =
    std::unique_ptr<EVP_KDF, base::OpenSslDeleter<EVP_KDF, EVP_KDF_free>>;
using EvpKdfCtxPtr =
    std::unique_ptr<EVP_KDF_CTX,
                    base::OpenSslDeleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;

std::string B64NoPad(std::string_view raw) {
  std::string out = absl::Base64Escape(std::string(raw));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

absl::Status Scrypt(const base::SecretBytes& password, std::string_view salt,
                    const ScryptParams& params, base::SecretBytes& out) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
  if (kdf == nullptr) {
    return absl::InternalError("scrypt is not available in this OpenSSL");
  }
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (ctx == nullptr) return absl::InternalError("EVP_KDF_CTX_new failed");
  uint64_t n = uint64_t{1} << params.log_n;
  uint32_t r = static_cast<uint32_t>(params.r);
  uint32_t p = static_cast<uint32_t>(params.p);
  // scrypt needs 128 * r * N bytes (plus 128 * r * p); allow that exactly,
  // with slack, instead of OpenSSL's 32 MiB default.
  uint64_t maxmem = 128 * uint64_t{r} * (n + p) + (1 << 20);
  // OSSL_PARAM takes non-const pointers; OpenSSL only reads them.
  std::string salt_copy(salt);
  std::vector<uint8_t> pw(password.data(), password.data() + password.size());
  // An empty password never authenticates (the caller checks), but the
  // dummy verification for it must still do the full work.
  if (pw.empty()) pw.push_back(0);
  OSSL_PARAM params_list[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pw.data(),
                                        pw.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_copy.data(),
                                        salt_copy.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end(),
  };
  int rc = EVP_KDF_derive(ctx.get(), out.data(), out.size(), params_list);
  OPENSSL_cleanse(pw.data(), pw.size());
  if (rc != 1) {
    return absl::InternalError(
        absl::StrCat("scrypt failed: ", base::OpenSslErrorString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeHash(const base::SecretBytes& password,
                                       const ScryptParams& params) {
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()),
                 static_cast<int>(salt.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  base::SecretBytes derived(kHashBytes);
  RETURN_IF_ERROR(Scrypt(password, salt, params, derived));
  return absl::StrCat("$scrypt$ln=", params.log_n, ",r=", params.r,
                      ",p=", params.p, "$", B64NoPad(salt), "$",
                      B64NoPad(derived.view()));
}

}  // namespace

absl::Status ScryptParams::Validate() const {
  if (log_n < 10 || log_n > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
    return absl::InvalidArgumentError(
        "scrypt parameters out of range (ln 10..20, r 1..32, p 1..16)");
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedPasswordHash> ParsePasswordHash(std::string_view encoded) {
  const absl::Status bad =
      absl::InvalidArgumentError("malformed password hash");
  // "", "scrypt", "ln=..,r=..,p=..", salt, hash
  std::vector<std::string> owned =
      absl::StrSplit(absl::string_view(encoded.data(), encoded.size()), '$');
  if (owned.size() != 5 || !owned[0].empty() || owned[1] != "scrypt") {
    return bad;
  }
  ParsedPasswordHash parsed;
  std::vector<std::string> kv = absl::StrSplit(owned[2], ',');
  if (kv.size() != 3) return bad;
  const char* names[] = {"ln=", "r=", "p="};
  int* fields[] = {&parsed.params.log_n, &parsed.params.r, &parsed.params.p};
  for (int i = 0; i < 3; ++i) {
    absl::string_view v(kv[i]);
    if (!absl::ConsumePrefix(&v, names[i]) || v.empty() || v.size() > 2 ||
        !absl::SimpleAtoi(v, fields[i])) {
      return bad;
    }
  }
  if (!parsed.params.Validate().ok()) return bad;
  if (owned[3].size() > kMaxPartBytes || owned[4].size() > kMaxPartBytes ||
      !absl::Base64Unescape(owned[3], &parsed.salt) ||
      !absl::Base64Unescape(owned[4], &parsed.hash) ||
      parsed.salt.size() < kMinSaltBytes ||
      parsed.hash.size() < kMinHashBytes) {
    return bad;
  }
  return parsed;
}

absl::StatusOr<std::unique_ptr<PasswordHasher>> PasswordHasher::Create(
    ScryptParams params) {
  RETURN_IF_ERROR(params.Validate());
  base::SecretBytes random(32);
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  ASSIGN_OR_RETURN(std::string dummy, EncodeHash(random, params));
  return std::unique_ptr<PasswordHasher>(
      new PasswordHasher(params, std::move(dummy)));
}

absl::StatusOr<std::string> PasswordHasher::Hash(
    const base::SecretBytes& password) const {
  if (password.empty()) {
    return absl::InvalidArgumentError("the password must not be empty");
  }
  return EncodeHash(password, params_);
}

bool PasswordHasher::VerifyParsed(const base::SecretBytes& password,
                                  const ParsedPasswordHash& parsed) const {
  verify_derivations_.fetch_add(1);
  base::SecretBytes derived(parsed.hash.size());
  if (!Scrypt(password, parsed.salt, parsed.params, derived).ok()) {
    return false;
  }
  return base::ConstantTimeEquals(
      derived.span(), absl::Span<const uint8_t>(
                          reinterpret_cast<const uint8_t*>(parsed.hash.data()),
                          parsed.hash.size()));
}

bool PasswordHasher::Verify(const base::SecretBytes& password,
                            std::optional<std::string_view> encoded) const {
  std::optional<ParsedPasswordHash> real;
  if (encoded.has_value() && !encoded->empty()) {
    absl::StatusOr<ParsedPasswordHash> parsed = ParsePasswordHash(*encoded);
    if (parsed.ok()) real = std::move(*parsed);
  }
  if (!real.has_value() || password.empty()) {
    // Same work as a real verification; the result is thrown away.
    absl::StatusOr<ParsedPasswordHash> dummy = ParsePasswordHash(dummy_);
    if (dummy.ok()) (void)VerifyParsed(password, *dummy);
    return false;
  }
  return VerifyParsed(password, *real);
}

}  // namespace sallyport::ca
