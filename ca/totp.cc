#include "ca/totp.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/openssl_handles.h"

namespace sallyport::ca {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const char* DigestName(TotpAlgorithm algorithm) {
  switch (algorithm) {
    case TotpAlgorithm::kSha256:
      return "SHA256";
    case TotpAlgorithm::kSha512:
      return "SHA512";
    case TotpAlgorithm::kSha1:
      break;
  }
  return "SHA1";
}

// HMAC(key, counter as 8 big-endian bytes); empty on failure.
std::vector<uint8_t> Hmac(const base::SecretBytes& key, uint64_t counter,
                          TotpAlgorithm algorithm) {
  std::array<uint8_t, 8> msg;
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  base::EvpMacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (mac == nullptr) return {};
  base::EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (ctx == nullptr) return {};
  char digest[16];
  snprintf(digest, sizeof(digest), "%s", DigestName(algorithm));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), msg.data(), msg.size()) != 1) {
    return {};
  }
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1) return {};
  out.resize(len);
  return out;
}

}  // namespace

std::string HotpCode(const base::SecretBytes& key, uint64_t counter, int digits,
                     TotpAlgorithm algorithm) {
  if (digits < 6) digits = 6;
  if (digits > 8) digits = 8;
  std::vector<uint8_t> h = Hmac(key, counter, algorithm);
  if (h.size() < 20) return std::string();
  // Dynamic truncation (RFC 4226 §5.3).
  const size_t offset = h.back() & 0x0f;
  uint32_t bin = (static_cast<uint32_t>(h[offset] & 0x7f) << 24) |
                 (static_cast<uint32_t>(h[offset + 1]) << 16) |
                 (static_cast<uint32_t>(h[offset + 2]) << 8) |
                 static_cast<uint32_t>(h[offset + 3]);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(bin % modulus);
  return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

uint64_t TotpStep(absl::Time now, absl::Duration step) {
  int64_t secs = absl::ToUnixSeconds(now);
  int64_t step_secs = absl::ToInt64Seconds(step);
  if (secs < 0 || step_secs <= 0) return 0;
  return static_cast<uint64_t>(secs / step_secs);
}

std::string TotpCode(const base::SecretBytes& key, absl::Time now,
                     const TotpParams& params) {
  return HotpCode(key, TotpStep(now, params.step), params.digits,
                  params.algorithm);
}

std::optional<uint64_t> VerifyTotp(const base::SecretBytes& key,
                                   std::string_view code, absl::Time now,
                                   const TotpParams& params) {
  if (key.empty() || code.size() != static_cast<size_t>(params.digits)) {
    return std::nullopt;
  }
  for (char c : code) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const uint64_t current = TotpStep(now, params.step);
  std::optional<uint64_t> matched;
  for (int delta = -params.skew_steps; delta <= params.skew_steps; ++delta) {
    if (delta < 0 && current < static_cast<uint64_t>(-delta)) continue;
    const uint64_t step = current + delta;
    std::string expected = HotpCode(key, step, params.digits, params.algorithm);
    const bool equal =
        expected.size() == code.size() &&
        base::ConstantTimeEquals(
            absl::Span<const uint8_t>(
                reinterpret_cast<const uint8_t*>(expected.data()),
                expected.size()),
            absl::Span<const uint8_t>(
                reinterpret_cast<const uint8_t*>(code.data()), code.size()));
    // Keep the latest matching step (a code can repeat across steps).
    if (equal) matched = step;
  }
  return matched;
}

absl::StatusOr<base::SecretBytes> GenerateTotpSecret() {
  base::SecretBytes key(20);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return key;
}

std::string Base32Encode(absl::Span<const uint8_t> data) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : data) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

absl::StatusOr<base::SecretBytes> Base32Decode(std::string_view text) {
  base::SecretBytes out;
  uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char raw : text) {
    if (raw == ' ') continue;
    if (raw == '=') {
      padding = true;
      continue;
    }
    if (padding) return absl::InvalidArgumentError("base32: data after '='");
    const char c = absl::ascii_toupper(static_cast<unsigned char>(raw));
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= '2' && c <= '7') {
      value = c - '2' + 26;
    } else {
      return absl::InvalidArgumentError("base32: invalid character");
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      uint8_t byte = static_cast<uint8_t>((buffer >> (bits - 8)) & 0xff);
      out.Append(absl::Span<const uint8_t>(&byte, 1));
      bits -= 8;
    }
  }
  return out;
}

std::string OtpauthUri(std::string_view issuer, std::string_view user,
                       const base::SecretBytes& key) {
  auto escape = [](std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
          c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        absl::StrAppend(&out, absl::StrFormat("%%%02X", c));
      }
    }
    return out;
  };
  return absl::StrCat("otpauth://totp/", escape(issuer), ":", escape(user),
                      "?secret=", Base32Encode(key.span()),
                      "&issuer=", escape(issuer),
                      "&algorithm=SHA1&digits=6&period=30");
}

}  // namespace sallyport::ca
