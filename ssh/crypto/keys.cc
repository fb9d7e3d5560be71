// Public keys: wire blobs, authorized_keys lines, fingerprints; and the
// base64 helpers. Signature verification is in signature_verify.cc, private
// keys in private_key.cc.
#include "ssh/crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/bounded_cache.h"
#include "base/status_macros.h"
#include "ssh/crypto/keys_internal.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::crypto {

using keys_internal::Annotate;
using keys_internal::kEcdsaP256Name;
using keys_internal::kEd25519Name;
using keys_internal::kEd25519PublicSize;
using keys_internal::kMaxNameLength;
using keys_internal::kMaxRsaBits;
using keys_internal::kNistP256;
using keys_internal::kP256PointSize;
using keys_internal::kRsaName;
using keys_internal::Str;

namespace {

// RSA public exponents above 64 bits are refused: OpenSSL itself refuses
// them for moduli over 3072 bits, and no real key uses one.
inline constexpr uint32_t kMaxRsaExponentBytes = 8;

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes into `out`, which has room for at least text.size() * 3 / 4 + 3
// bytes; returns the number of bytes written. Refuses characters outside the
// alphabet, misplaced or excess '=', a dangling sixth of a byte and non-zero
// unused bits (so every byte string has exactly one accepted encoding, with
// or without padding).
absl::StatusOr<size_t> DecodeBase64Core(std::string_view text,
                                        bool skip_newlines, uint8_t* out) {
  uint32_t acc = 0;
  size_t symbols = 0;
  size_t padding = 0;
  size_t o = 0;
  for (char c : text) {
    if (skip_newlines && (c == '\n' || c == '\r')) continue;
    if (c == '=') {
      if (++padding > 2)
        return absl::InvalidArgumentError("bad base64 padding");
      continue;
    }
    if (padding > 0) {
      return absl::InvalidArgumentError("base64 data after padding");
    }
    int v = Base64Value(c);
    if (v < 0) return absl::InvalidArgumentError("invalid base64 character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++symbols % 4 == 0) {
      out[o++] = static_cast<uint8_t>(acc >> 16);
      out[o++] = static_cast<uint8_t>(acc >> 8);
      out[o++] = static_cast<uint8_t>(acc);
      acc = 0;
    }
  }
  const size_t rest = symbols % 4;
  if (rest == 1) return absl::InvalidArgumentError("truncated base64");
  if (padding > 0 && rest + padding != 4) {
    return absl::InvalidArgumentError("bad base64 padding");
  }
  if (rest == 2) {
    if ((acc & 0xf) != 0) return absl::InvalidArgumentError("bad base64 tail");
    out[o++] = static_cast<uint8_t>(acc >> 4);
  } else if (rest == 3) {
    if ((acc & 0x3) != 0) return absl::InvalidArgumentError("bad base64 tail");
    out[o++] = static_cast<uint8_t>(acc >> 10);
    out[o++] = static_cast<uint8_t>(acc >> 2);
  }
  return o;
}

size_t MaxDecodedSize(size_t text_size) { return text_size / 4 * 3 + 3; }

int BitLength(Bytes magnitude) {
  if (magnitude.empty()) return 0;
  int top = 0;
  for (uint8_t b = magnitude[0]; b != 0; b >>= 1) ++top;
  return static_cast<int>(magnitude.size() - 1) * 8 + top;
}

absl::StatusOr<base::EvpPkeyPtr> Ed25519PublicKey(Bytes pk) {
  if (pk.size() != kEd25519PublicSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ssh-ed25519 public key is ", pk.size(), " bytes, expected 32"));
  }
  base::EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                    pk.data(), pk.size()));
  if (pkey == nullptr) {
    keys_internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError("bad ssh-ed25519 public key");
  }
  return pkey;
}

absl::StatusOr<base::EvpPkeyPtr> RsaPublicKey(Bytes e, Bytes n) {
  base::BignumPtr bn_e(
      BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  base::BignumPtr bn_n(
      BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  base::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bn_e == nullptr || bn_n == nullptr || bld == nullptr ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) !=
          1) {
    return absl::InternalError(
        absl::StrCat("building RSA parameters: ", base::OpenSslErrorString()));
  }
  base::OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  base::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    keys_internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError("bad ssh-rsa public key");
  }
  return base::EvpPkeyPtr(raw);
}

// Keys parsed before, by their blob as given. A gateway parses the same
// few keys on every connection (the user's certificate key and its CA key,
// twice: the query and the signed request; the session certificate's; the
// target's host key and host CA), and in OpenSSL 3.0 every new EVP_PKEY
// costs a provider lookup and a walk over the algorithm name map, more than
// the parse. A parsed key never changes (its EVP_PKEY is only read, and is
// already shared by all copies of a key, across threads), so a blob always
// gives an equal key: reusing it is the same as parsing again. Bounded: when
// full it starts over. Only keys that parsed are kept.
base::BoundedCache<PublicKey>& ParsedKeys() {
  static auto* const keys = new base::BoundedCache<PublicKey>(128);  // kept
  return *keys;
}

absl::string_view BlobKey(Bytes blob) {
  // absl::string_view: in this Abseil build it is not std::string_view.
  return absl::string_view(reinterpret_cast<const char*>(blob.data()),
                           blob.size());
}

// Keeps `key` as the parse of `blob` and returns it.
PublicKey Remember(Bytes blob, PublicKey key) {
  ParsedKeys().Add(std::string(BlobKey(blob)), key);
  return key;
}

}  // namespace

namespace keys_internal {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  return absl::Status(status.code(),
                      absl::StrCat(Str(context), ": ", status.message()));
}

bool IsCertificateTypeName(std::string_view name) {
  return name.ends_with("-cert-v01@openssh.com") ||
         name.ends_with("-cert-v00@openssh.com");
}

void ClearOpenSslErrors() { ERR_clear_error(); }

absl::StatusOr<base::EvpPkeyPtr> P256PublicKeyFromPoint(Bytes point) {
  if (point.size() != kP256PointSize || point[0] != 0x04) {
    return absl::InvalidArgumentError(
        "ECDSA/ECDH P-256 point must be a 65-byte uncompressed point");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>(kP256GroupName), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<uint8_t*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  base::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("P-256 point is not on the curve");
  }
  base::EvpPkeyPtr pkey(raw);
  // fromdata already refuses points off the curve; the explicit check also
  // covers infinity and the subgroup, whatever the OpenSSL version does.
  base::EvpPkeyCtxPtr check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("P-256 point is not a valid public key");
  }
  return pkey;
}

absl::StatusOr<Bytes> PublicKeyField(const PublicKey& key) {
  if (key.type() == KeyType::kRsa) {
    return absl::InternalError("RSA keys have no single key field");
  }
  wire::Reader r(key.Blob());
  ASSIGN_OR_RETURN(std::string_view name, r.ReadCString(kMaxNameLength));
  (void)name;
  if (key.type() == KeyType::kEcdsaP256) {
    ASSIGN_OR_RETURN(std::string_view curve, r.ReadCString(kMaxNameLength));
    (void)curve;
  }
  ASSIGN_OR_RETURN(Bytes field, r.ReadString());
  RETURN_IF_ERROR(r.ExpectEnd());
  return field;
}

absl::StatusOr<base::SecretBytes> Base64DecodeSecret(std::string_view text,
                                                     bool skip_newlines) {
  base::SecretBytes out(MaxDecodedSize(text.size()));
  ASSIGN_OR_RETURN(size_t n, DecodeBase64Core(text, skip_newlines, out.data()));
  out.Resize(n);
  return out;
}

void AppendBase64(Bytes data, size_t line_length, std::string* out) {
  // Sized once and written in place (no push_back per character: this
  // runs for every fingerprint and certificate line the CA hands out).
  const size_t chars = (data.size() + 2) / 3 * 4;
  const size_t breaks =
      line_length > 0 && chars > 0 ? (chars - 1) / line_length : 0;
  const size_t start = out->size();
  out->resize(start + chars + breaks);
  char* next = out->data() + start;
  size_t column = 0;
  auto put = [&](char c) {
    if (line_length > 0 && column == line_length) {
      *next++ = '\n';
      column = 0;
    }
    *next++ = c;
    ++column;
  };
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) |
                 uint32_t{data[i + 2]};
    put(kBase64Alphabet[(v >> 18) & 63]);
    put(kBase64Alphabet[(v >> 12) & 63]);
    put(kBase64Alphabet[(v >> 6) & 63]);
    put(kBase64Alphabet[v & 63]);
  }
  const size_t rest = data.size() - i;
  if (rest == 0) return;
  uint32_t v = uint32_t{data[i]} << 16;
  if (rest == 2) v |= uint32_t{data[i + 1]} << 8;
  put(kBase64Alphabet[(v >> 18) & 63]);
  put(kBase64Alphabet[(v >> 12) & 63]);
  put(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
  put('=');
}

}  // namespace keys_internal

std::string Base64Encode(Bytes data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  keys_internal::AppendBase64(data, 0, &out);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  std::vector<uint8_t> out(MaxDecodedSize(text.size()));
  ASSIGN_OR_RETURN(size_t n,
                   DecodeBase64Core(text, /*skip_newlines=*/false, out.data()));
  out.resize(n);
  return out;
}

absl::StatusOr<PublicKey> PublicKey::FromBlob(Bytes blob) {
  if (std::optional<PublicKey> known = ParsedKeys().Find(BlobKey(blob))) {
    return *std::move(known);
  }
  wire::Reader r(blob);
  auto name_or = r.ReadCString(kMaxNameLength);
  if (!name_or.ok()) return Annotate(name_or.status(), "public key type");
  const std::string_view name = *name_or;
  wire::Writer canonical;
  canonical.String(name);

  if (name == kEd25519Name) {
    auto pk = r.ReadString(kEd25519PublicSize + 1);
    if (!pk.ok()) return Annotate(pk.status(), "ssh-ed25519 key");
    absl::Status end = r.ExpectEnd();
    if (!end.ok()) return Annotate(end, "ssh-ed25519 key");
    ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, Ed25519PublicKey(*pk));
    canonical.String(*pk);
    return Remember(blob, PublicKey(KeyType::kEd25519, canonical.Take(),
                                    keys_internal::Share(std::move(pkey))));
  }

  if (name == kEcdsaP256Name) {
    auto curve = r.ReadCString(kMaxNameLength);
    if (!curve.ok()) return Annotate(curve.status(), "ECDSA key curve");
    auto q = r.ReadString(kP256PointSize * 2);
    if (!q.ok()) return Annotate(q.status(), "ECDSA key point");
    absl::Status end = r.ExpectEnd();
    if (!end.ok()) return Annotate(end, "ECDSA key");
    if (*curve != kNistP256) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ECDSA key named ", Str(name), " has curve ", Str(*curve)));
    }
    ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey,
                     keys_internal::P256PublicKeyFromPoint(*q));
    canonical.String(*curve).String(*q);
    return Remember(blob, PublicKey(KeyType::kEcdsaP256, canonical.Take(),
                                    keys_internal::Share(std::move(pkey))));
  }

  if (name == kRsaName) {
    auto e = r.ReadMpint(kMaxRsaExponentBytes);
    if (!e.ok()) return Annotate(e.status(), "ssh-rsa exponent");
    auto n = r.ReadMpint(kMaxRsaBits / 8);
    if (!n.ok()) return Annotate(n.status(), "ssh-rsa modulus");
    absl::Status end = r.ExpectEnd();
    if (!end.ok()) return Annotate(end, "ssh-rsa key");
    const int bits = BitLength(*n);
    if (bits < kMinRsaBits) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RSA key of ", bits, " bits is below the minimum of ", kMinRsaBits));
    }
    if ((n->back() & 1) == 0) {
      return absl::InvalidArgumentError("RSA modulus is even");
    }
    if (e->empty() || (e->back() & 1) == 0 || (e->size() == 1 && (*e)[0] < 3)) {
      return absl::InvalidArgumentError(
          "RSA public exponent must be odd and at least 3");
    }
    ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, RsaPublicKey(*e, *n));
    canonical.Mpint(*e).Mpint(*n);
    return Remember(blob, PublicKey(KeyType::kRsa, canonical.Take(),
                                    keys_internal::Share(std::move(pkey))));
  }

  if (keys_internal::IsCertificateTypeName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate, not a plain key (type ", Str(name), ")"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown public key type \"", Str(name), "\""));
}

absl::StatusOr<KeyLine> SplitKeyLine(std::string_view line) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!line.empty() && (is_space(line.back()) || line.back() == '\n' ||
                           line.back() == '\r')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
  if (line.empty()) return absl::InvalidArgumentError("empty key line");
  for (char c : line) {
    if (c == '\0' || c == '\n' || c == '\r') {
      return absl::InvalidArgumentError(
          "key line contains a line break or NUL");
    }
  }
  KeyLine out;
  size_t type_end = 0;
  while (type_end < line.size() && !is_space(line[type_end])) ++type_end;
  out.type = line.substr(0, type_end);
  size_t data_begin = type_end;
  while (data_begin < line.size() && is_space(line[data_begin])) ++data_begin;
  size_t data_end = data_begin;
  while (data_end < line.size() && !is_space(line[data_end])) ++data_end;
  out.data = line.substr(data_begin, data_end - data_begin);
  size_t comment_begin = data_end;
  while (comment_begin < line.size() && is_space(line[comment_begin]))
    ++comment_begin;
  out.comment = line.substr(comment_begin);
  return out;
}

absl::StatusOr<PublicKey> PublicKey::FromAuthorizedKeysLine(
    std::string_view line) {
  ASSIGN_OR_RETURN(KeyLine fields, SplitKeyLine(line));
  const std::string_view type = fields.type;
  const std::string_view data = fields.data;

  if (keys_internal::IsCertificateTypeName(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate, not a plain key (type ", Str(type), ")"));
  }
  if (type != kEd25519Name && type != kEcdsaP256Name && type != kRsaName) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown public key type \"",
                     Str(type.substr(0, kMaxNameLength)), "\""));
  }
  if (data.empty()) return absl::InvalidArgumentError("missing key data");
  auto blob = Base64Decode(data);
  if (!blob.ok()) return Annotate(blob.status(), "public key data");
  ASSIGN_OR_RETURN(PublicKey key, FromBlob(*blob));
  if (key.TypeName() != type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key line says ", Str(type), " but the key is ", Str(key.TypeName())));
  }
  return key;
}

std::string_view PublicKey::TypeName() const {
  switch (type_) {
    case KeyType::kEd25519:
      return kEd25519Name;
    case KeyType::kEcdsaP256:
      return kEcdsaP256Name;
    case KeyType::kRsa:
      return kRsaName;
  }
  return "";
}

std::string PublicKey::FingerprintSha256() const {
  std::string out = "SHA256:";
  keys_internal::AppendBase64(Sha256(blob_), 0, &out);
  while (out.back() == '=') out.pop_back();
  return out;
}

std::string PublicKey::ToAuthorizedKeysLine(std::string_view comment) const {
  std::string out(TypeName());
  out.push_back(' ');
  keys_internal::AppendBase64(blob_, 0, &out);
  if (!comment.empty()) {
    out.push_back(' ');
    out.append(comment);
  }
  return out;
}

int PublicKey::Bits() const {
  if (type_ == KeyType::kRsa) return EVP_PKEY_get_bits(pkey_.get());
  // ssh-keygen reports 256 for Ed25519 (OpenSSL would say 253).
  return 256;
}

}  // namespace sallyport::ssh::crypto
