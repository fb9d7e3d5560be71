// Private keys: generation, signing, and the openssh-key-v1 (OpenSSH
// PROTOCOL.key) and PEM file formats.
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "ssh/crypto/keys.h"
#include "ssh/crypto/keys_internal.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::crypto {

using keys_internal::ClearOpenSslErrors;
using keys_internal::kEcdsaP256Name;
using keys_internal::kEd25519Name;
using keys_internal::kEd25519PublicSize;
using keys_internal::kEd25519SeedSize;
using keys_internal::kMaxNameLength;
using keys_internal::kNistP256;
using keys_internal::kP256GroupName;
using keys_internal::kP256PointSize;
using keys_internal::kP256ScalarSize;
using keys_internal::kRsaName;
using keys_internal::Str;

namespace {

constexpr std::string_view kOpenSshBegin =
    "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kOpenSshEnd = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::string_view kPkcs8Begin = "-----BEGIN PRIVATE KEY-----";
constexpr std::string_view kEcBegin = "-----BEGIN EC PRIVATE KEY-----";
constexpr std::string_view kEncryptedPkcs8Begin =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----";
constexpr std::string_view kRsaBegin = "-----BEGIN RSA PRIVATE KEY-----";
// "openssh-key-v1" and its terminating NUL.
constexpr std::string_view kOpenSshMagic{"openssh-key-v1\0", 15};
// The block size of cipher "none": the private section is padded to it.
constexpr size_t kOpenSshBlockSize = 8;
// ssh-keygen wraps the base64 body at 70 columns.
constexpr size_t kOpenSshLineLength = 70;
// Bigger than any key file we accept; bounds the work on hostile input.
constexpr size_t kMaxKeyTextSize = 1 << 20;

absl::Status EncryptedKeyError() {
  return absl::InvalidArgumentError("encrypted private keys are not supported");
}
absl::Status RsaPrivateKeyError() {
  return absl::InvalidArgumentError(
      "RSA private keys are not used for signing");
}
absl::Status MismatchError() {
  return absl::InvalidArgumentError(
      "private key does not match its public key");
}

// A byte vector that is wiped when it goes away. Capacity is reserved up
// front so that appending through wire::Writer never reallocates and leaves
// an unwiped copy behind.
class WipedBuffer {
 public:
  explicit WipedBuffer(size_t capacity) { bytes_.reserve(capacity); }
  ~WipedBuffer() {
    if (bytes_.capacity() > 0)
      OPENSSL_cleanse(bytes_.data(), bytes_.capacity());
  }
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;
  std::vector<uint8_t>* get() { return &bytes_; }
  Bytes span() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

std::string_view TrimLeadingWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' ||
                        s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return s;
}

bool AllWhitespace(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

// The Ed25519 raw public key of a (private or public) EVP_PKEY.
absl::StatusOr<std::vector<uint8_t>> RawEd25519Public(EVP_PKEY* pkey) {
  std::vector<uint8_t> pk(kEd25519PublicSize);
  size_t len = pk.size();
  if (EVP_PKEY_get_raw_public_key(pkey, pk.data(), &len) != 1 ||
      len != pk.size()) {
    return absl::InternalError(absl::StrCat("reading Ed25519 public key: ",
                                            base::OpenSslErrorString()));
  }
  return pk;
}

// The uncompressed P-256 point of an EC key, which must be on P-256.
absl::StatusOr<std::vector<uint8_t>> P256Point(EVP_PKEY* pkey) {
  char group[64] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) != 1 ||
      std::string_view(group, group_len) != kP256GroupName) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("only P-256 ECDSA keys are supported");
  }
  // A key read from PEM may have asked for compressed points.
  if (EVP_PKEY_set_utf8_string_param(
          pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
          OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
    return absl::InternalError(
        absl::StrCat("setting EC point format: ", base::OpenSslErrorString()));
  }
  std::vector<uint8_t> q(kP256PointSize);
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, q.data(),
                                      q.size(), &len) != 1 ||
      len != q.size() || q[0] != 0x04) {
    return absl::InternalError(
        absl::StrCat("reading P-256 point: ", base::OpenSslErrorString()));
  }
  return q;
}

// The SSH public key of an OpenSSL private key of a type we sign with.
absl::StatusOr<PublicKey> PublicKeyOf(EVP_PKEY* pkey) {
  wire::Writer blob;
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519: {
      ASSIGN_OR_RETURN(std::vector<uint8_t> pk, RawEd25519Public(pkey));
      blob.String(kEd25519Name).String(pk);
      break;
    }
    case EVP_PKEY_EC: {
      ASSIGN_OR_RETURN(std::vector<uint8_t> q, P256Point(pkey));
      blob.String(kEcdsaP256Name).String(kNistP256).String(q);
      break;
    }
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return RsaPrivateKeyError();
    default:
      return absl::InvalidArgumentError(
          "unsupported private key type (Ed25519 and ECDSA P-256 only)");
  }
  return PublicKey::FromBlob(blob.data());
}

// Full validation of an OpenSSL key pair: for EC this includes the range of
// d and the pairwise check Q == d*G.
absl::Status CheckKeyPair(EVP_PKEY* pkey) {
  base::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (ctx == nullptr || EVP_PKEY_check(ctx.get()) != 1) {
    ClearOpenSslErrors();
    return MismatchError();
  }
  return absl::OkStatus();
}

absl::StatusOr<base::EvpPkeyPtr> Ed25519FromSeed(Bytes seed) {
  base::EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                     seed.data(), seed.size()));
  if (pkey == nullptr) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("bad Ed25519 private key");
  }
  return pkey;
}

absl::StatusOr<base::EvpPkeyPtr> P256FromParts(Bytes q, Bytes d) {
  base::SecretBignumPtr bn_d(BN_secure_new());
  base::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bn_d == nullptr || bld == nullptr ||
      BN_bin2bn(d.data(), static_cast<int>(d.size()), bn_d.get()) == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      kP256GroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       q.data(), q.size()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, bn_d.get()) !=
          1) {
    return absl::InternalError(
        absl::StrCat("building EC parameters: ", base::OpenSslErrorString()));
  }
  base::OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  base::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("bad ECDSA private key");
  }
  base::EvpPkeyPtr pkey(raw);
  RETURN_IF_ERROR(CheckKeyPair(pkey.get()));
  return pkey;
}

// The private half of an openssh-key-v1 key for `pub` (PROTOCOL.key; the
// per-type fields are those of OpenSSH's private key serialisation).
absl::StatusOr<base::EvpPkeyPtr> ParsePrivateFields(wire::Reader& r,
                                                    const PublicKey& pub) {
  ASSIGN_OR_RETURN(Bytes pub_field, keys_internal::PublicKeyField(pub));
  if (pub.type() == KeyType::kEd25519) {
    ASSIGN_OR_RETURN(Bytes pk, r.ReadString(64));
    ASSIGN_OR_RETURN(Bytes sk, r.ReadString(128));
    if (pk.size() != kEd25519PublicSize ||
        sk.size() != kEd25519SeedSize + kEd25519PublicSize) {
      return absl::InvalidArgumentError("bad Ed25519 private key lengths");
    }
    if (!std::equal(pk.begin(), pk.end(), pub_field.begin(), pub_field.end()) ||
        !std::equal(pk.begin(), pk.end(), sk.begin() + kEd25519SeedSize,
                    sk.end())) {
      return MismatchError();
    }
    ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey,
                     Ed25519FromSeed(sk.subspan(0, kEd25519SeedSize)));
    ASSIGN_OR_RETURN(std::vector<uint8_t> derived,
                     RawEd25519Public(pkey.get()));
    if (!std::equal(derived.begin(), derived.end(), pk.begin(), pk.end())) {
      return MismatchError();
    }
    return pkey;
  }
  if (pub.type() == KeyType::kEcdsaP256) {
    ASSIGN_OR_RETURN(std::string_view curve, r.ReadCString(kMaxNameLength));
    ASSIGN_OR_RETURN(Bytes q, r.ReadString(kP256PointSize));
    ASSIGN_OR_RETURN(Bytes d, r.ReadMpint(kP256ScalarSize));
    if (curve != kNistP256 ||
        !std::equal(q.begin(), q.end(), pub_field.begin(), pub_field.end())) {
      return MismatchError();
    }
    if (d.empty())
      return absl::InvalidArgumentError("ECDSA private key is zero");
    return P256FromParts(q, d);
  }
  return RsaPrivateKeyError();
}

// openssh-key-v1, after base64 decoding (OpenSSH PROTOCOL.key).
absl::StatusOr<base::EvpPkeyPtr> ParseOpenSshKeyV1(Bytes data) {
  wire::Reader r(data);
  auto magic = r.ReadRaw(kOpenSshMagic.size());
  if (!magic.ok() || wire::AsStringView(*magic) != kOpenSshMagic) {
    return absl::InvalidArgumentError("not an openssh-key-v1 private key");
  }
  ASSIGN_OR_RETURN(std::string_view cipher, r.ReadCString(kMaxNameLength));
  ASSIGN_OR_RETURN(std::string_view kdf, r.ReadCString(kMaxNameLength));
  ASSIGN_OR_RETURN(Bytes kdf_options, r.ReadString());
  if (cipher != "none" || kdf != "none") return EncryptedKeyError();
  if (!kdf_options.empty()) {
    return absl::InvalidArgumentError("kdf options on an unencrypted key");
  }
  ASSIGN_OR_RETURN(uint32_t nkeys, r.ReadUint32());
  if (nkeys != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file holds ", nkeys, " keys, expected 1"));
  }
  ASSIGN_OR_RETURN(Bytes public_blob, r.ReadString());
  ASSIGN_OR_RETURN(Bytes section, r.ReadString());
  RETURN_IF_ERROR(r.ExpectEnd());

  {
    wire::Reader peek(public_blob);
    auto type = peek.ReadCString(kMaxNameLength);
    if (type.ok() && *type == kRsaName) return RsaPrivateKeyError();
  }
  ASSIGN_OR_RETURN(PublicKey pub, PublicKey::FromBlob(public_blob));
  if (pub.type() == KeyType::kRsa) return RsaPrivateKeyError();

  if (section.size() % kOpenSshBlockSize != 0) {
    return absl::InvalidArgumentError(
        "private section is not a multiple of the block size");
  }
  wire::Reader s(section);
  ASSIGN_OR_RETURN(uint32_t check1, s.ReadUint32());
  ASSIGN_OR_RETURN(uint32_t check2, s.ReadUint32());
  if (check1 != check2) {
    return absl::InvalidArgumentError(
        "private key check values differ (corrupt key)");
  }
  ASSIGN_OR_RETURN(std::string_view type, s.ReadCString(kMaxNameLength));
  if (type != pub.TypeName()) {
    return absl::InvalidArgumentError(
        absl::StrCat("private key of type ", Str(type),
                     " under a public key of type ", Str(pub.TypeName())));
  }
  ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, ParsePrivateFields(s, pub));
  ASSIGN_OR_RETURN(Bytes comment, s.ReadString());
  (void)comment;  // PrivateKey keeps no comment.
  // Deterministic padding 1, 2, 3, ... up to the block size.
  Bytes padding = s.Rest();
  for (size_t i = 0; i < padding.size(); ++i) {
    if (padding[i] != static_cast<uint8_t>(i + 1)) {
      return absl::InvalidArgumentError("bad private key padding");
    }
  }
  return pkey;
}

absl::StatusOr<base::EvpPkeyPtr> ParseOpenSshText(std::string_view text) {
  text.remove_prefix(kOpenSshBegin.size());
  if (text.empty() || (text.front() != '\n' && text.front() != '\r')) {
    return absl::InvalidArgumentError("malformed OpenSSH private key header");
  }
  const size_t end = text.find(kOpenSshEnd);
  if (end == std::string_view::npos) {
    return absl::InvalidArgumentError("OpenSSH private key has no END line");
  }
  if (!AllWhitespace(text.substr(end + kOpenSshEnd.size()))) {
    return absl::InvalidArgumentError("data after the OpenSSH private key");
  }
  auto decoded = keys_internal::Base64DecodeSecret(text.substr(0, end), true);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("OpenSSH private key body: ", decoded.status().message()));
  }
  return ParseOpenSshKeyV1(decoded->span());
}

// Refuses to prompt: a PEM key that needs a passphrase fails to load.
int NoPassphrase(char*, int, int, void*) { return -1; }

absl::StatusOr<base::EvpPkeyPtr> ParsePem(std::string_view text) {
  if (text.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    return EncryptedKeyError();
  }
  base::BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio == nullptr) {
    return absl::InternalError(
        absl::StrCat("BIO_new_mem_buf: ", base::OpenSslErrorString()));
  }
  base::EvpPkeyPtr pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (pkey == nullptr) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("malformed PEM private key");
  }
  return pkey;
}

absl::StatusOr<base::EvpPkeyPtr> ParseAnyFormat(std::string_view text) {
  if (text.size() > kMaxKeyTextSize) {
    return absl::InvalidArgumentError("private key file too large");
  }
  text = TrimLeadingWhitespace(text);
  if (text.starts_with(kOpenSshBegin)) return ParseOpenSshText(text);
  if (text.starts_with(kEncryptedPkcs8Begin)) return EncryptedKeyError();
  if (text.starts_with(kRsaBegin)) return RsaPrivateKeyError();
  if (text.starts_with(kPkcs8Begin) || text.starts_with(kEcBegin)) {
    ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, ParsePem(text));
    if (EVP_PKEY_get_base_id(pkey.get()) == EVP_PKEY_EC) {
      RETURN_IF_ERROR(CheckKeyPair(pkey.get()));
    }
    return pkey;
  }
  return absl::InvalidArgumentError(
      "not an OpenSSH or PEM private key (unrecognised BEGIN line)");
}

absl::StatusOr<base::EvpPkeyPtr> GenerateKey(const char* type,
                                             const char* group) {
  EVP_PKEY* raw = group == nullptr
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, type)
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, type, group);
  if (raw == nullptr) {
    return absl::InternalError(
        absl::StrCat("key generation: ", base::OpenSslErrorString()));
  }
  return base::EvpPkeyPtr(raw);
}

// Writes the openssh-key-v1 private fields of `key` to `w`.
absl::Status WritePrivateFields(EVP_PKEY* pkey, const PublicKey& pub,
                                wire::Writer& w) {
  ASSIGN_OR_RETURN(Bytes pub_field, keys_internal::PublicKeyField(pub));
  if (pub.type() == KeyType::kEd25519) {
    uint8_t sk[kEd25519SeedSize + kEd25519PublicSize];
    size_t len = kEd25519SeedSize;
    if (EVP_PKEY_get_raw_private_key(pkey, sk, &len) != 1 ||
        len != kEd25519SeedSize) {
      OPENSSL_cleanse(sk, sizeof(sk));
      return absl::InternalError(absl::StrCat("reading Ed25519 private key: ",
                                              base::OpenSslErrorString()));
    }
    std::memcpy(sk + kEd25519SeedSize, pub_field.data(), kEd25519PublicSize);
    w.String(pub_field).String(Bytes(sk, sizeof(sk)));
    OPENSSL_cleanse(sk, sizeof(sk));
    return absl::OkStatus();
  }
  // ECDSA P-256.
  BIGNUM* raw_d = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &raw_d) != 1) {
    return absl::InternalError(absl::StrCat("reading ECDSA private key: ",
                                            base::OpenSslErrorString()));
  }
  base::SecretBignumPtr d(raw_d);
  uint8_t d_bytes[kP256ScalarSize];
  if (BN_bn2binpad(d.get(), d_bytes, sizeof(d_bytes)) !=
      static_cast<int>(sizeof(d_bytes))) {
    OPENSSL_cleanse(d_bytes, sizeof(d_bytes));
    return absl::InternalError("ECDSA private key out of range");
  }
  w.String(kNistP256).String(pub_field).Mpint(Bytes(d_bytes, sizeof(d_bytes)));
  OPENSSL_cleanse(d_bytes, sizeof(d_bytes));
  return absl::OkStatus();
}

}  // namespace

struct PrivateKey::SignTemplate {
  std::once_flag once;
  base::EvpMdCtxPtr ctx;  // null until set up, or if that failed
};

PrivateKey::PrivateKey(PublicKey pub, std::shared_ptr<EVP_PKEY> pkey)
    : public_key_(std::move(pub)), pkey_(std::move(pkey)) {
  if (type() == KeyType::kEd25519) {
    sign_template_ = std::make_shared<SignTemplate>();
  }
}

base::EvpMdCtxPtr PrivateKey::NewSignContext() const {
  const bool ed25519 = type() == KeyType::kEd25519;
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return nullptr;
  if (sign_template_ != nullptr) {
    SignTemplate& t = *sign_template_;
    std::call_once(t.once, [&] {
      base::EvpMdCtxPtr fresh(EVP_MD_CTX_new());
      if (fresh != nullptr &&
          EVP_DigestSignInit_ex(fresh.get(), nullptr, nullptr, nullptr, nullptr,
                                pkey_.get(), nullptr) == 1) {
        t.ctx = std::move(fresh);
      }
    });
    // Read only: concurrent copies are safe.
    if (t.ctx != nullptr) {
      return EVP_MD_CTX_copy_ex(ctx.get(), t.ctx.get()) == 1 ? std::move(ctx)
                                                             : nullptr;
    }
  }
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, ed25519 ? nullptr : "SHA256",
                            nullptr, nullptr, pkey_.get(), nullptr) != 1) {
    return nullptr;
  }
  return ctx;
}

absl::StatusOr<PrivateKey> PrivateKey::GenerateEd25519() {
  ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, GenerateKey("ED25519", nullptr));
  ASSIGN_OR_RETURN(PublicKey pub, PublicKeyOf(pkey.get()));
  return PrivateKey(std::move(pub), keys_internal::Share(std::move(pkey)));
}

absl::StatusOr<PrivateKey> PrivateKey::GenerateEcdsaP256() {
  ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, GenerateKey("EC", "P-256"));
  ASSIGN_OR_RETURN(PublicKey pub, PublicKeyOf(pkey.get()));
  return PrivateKey(std::move(pub), keys_internal::Share(std::move(pkey)));
}

absl::StatusOr<PrivateKey> PrivateKey::Parse(std::string_view text) {
  ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, ParseAnyFormat(text));
  ASSIGN_OR_RETURN(PublicKey pub, PublicKeyOf(pkey.get()));
  return PrivateKey(std::move(pub), keys_internal::Share(std::move(pkey)));
}

absl::StatusOr<PrivateKey> PrivateKey::LoadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("opening ", path));
  }
  base::SecretBytes contents;
  absl::Status status;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::InvalidArgumentError(
        absl::StrCat(path, " is not a regular file"));
  } else if (static_cast<uint64_t>(st.st_size) > kMaxKeyTextSize) {
    status = absl::InvalidArgumentError(
        absl::StrCat(path, " is too large for a private key"));
  } else {
    // One byte more than the size so that a file that grew is noticed.
    contents.Resize(static_cast<size_t>(st.st_size) + 1);
    size_t got = 0;
    while (got < contents.size()) {
      ssize_t n = read(fd, contents.data() + got, contents.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("reading ", path));
        break;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    if (status.ok() && got > static_cast<size_t>(st.st_size)) {
      status = absl::UnavailableError(
          absl::StrCat(path, " changed while being read"));
    }
    contents.Resize(got);
  }
  close(fd);
  RETURN_IF_ERROR(status);
  return Parse(contents.view());
}

absl::StatusOr<std::vector<uint8_t>> PrivateKey::Sign(Bytes data) const {
  static const uint8_t kEmpty = 0;
  const bool ed25519 = type() == KeyType::kEd25519;
  base::EvpMdCtxPtr ctx = NewSignContext();
  const int max_size = EVP_PKEY_get_size(pkey_.get());
  if (ctx == nullptr || max_size <= 0) {
    return absl::InternalError(
        absl::StrCat("signing: ", base::OpenSslErrorString()));
  }
  std::vector<uint8_t> sig(static_cast<size_t>(max_size));
  size_t sig_len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                     data.empty() ? &kEmpty : data.data(), data.size()) != 1) {
    return absl::InternalError(
        absl::StrCat("signing: ", base::OpenSslErrorString()));
  }
  sig.resize(sig_len);

  wire::Writer blob;
  blob.String(SignatureAlgorithm());
  if (ed25519) {
    blob.String(sig);
    return blob.Take();
  }
  // ECDSA: DER SEQUENCE { r, s } → string(mpint r, mpint s), RFC 5656 §3.1.2.
  const uint8_t* p = sig.data();
  base::EcdsaSigPtr ecdsa(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (ecdsa == nullptr) {
    return absl::InternalError(
        absl::StrCat("decoding ECDSA signature: ", base::OpenSslErrorString()));
  }
  const BIGNUM* r = ECDSA_SIG_get0_r(ecdsa.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(ecdsa.get());
  std::vector<uint8_t> rb(static_cast<size_t>(BN_num_bytes(r)));
  std::vector<uint8_t> sb(static_cast<size_t>(BN_num_bytes(s)));
  BN_bn2bin(r, rb.data());
  BN_bn2bin(s, sb.data());
  wire::Writer inner;
  inner.Mpint(rb).Mpint(sb);
  blob.String(inner.data());
  return blob.Take();
}

std::string_view PrivateKey::SignatureAlgorithm() const {
  return type() == KeyType::kEd25519 ? kEd25519Name : kEcdsaP256Name;
}

absl::StatusOr<base::SecretBytes> PrivateKey::ToOpenSshFormat(
    std::string_view comment) const {
  if (comment.size() > wire::kMaxStringLength) {
    return absl::InvalidArgumentError("key comment too long");
  }
  const size_t capacity = 512 + comment.size();
  WipedBuffer section(capacity);
  wire::Writer s(section.get());
  uint32_t check = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&check), sizeof(check)) !=
      1) {
    return absl::InternalError(
        absl::StrCat("RAND_bytes: ", base::OpenSslErrorString()));
  }
  s.Uint32(check).Uint32(check).String(public_key_.TypeName());
  RETURN_IF_ERROR(WritePrivateFields(pkey_.get(), public_key_, s));
  s.String(comment);
  for (uint8_t pad = 1; s.size() % kOpenSshBlockSize != 0; ++pad) s.Byte(pad);

  WipedBuffer file(capacity + section.span().size());
  wire::Writer f(file.get());
  f.Raw(kOpenSshMagic)
      .String("none")
      .String("none")
      .String("")
      .Uint32(1)
      .String(public_key_.Blob())
      .String(section.span());

  std::string out;
  const size_t b64 = (file.span().size() + 2) / 3 * 4;
  out.reserve(kOpenSshBegin.size() + kOpenSshEnd.size() + b64 +
              b64 / kOpenSshLineLength + 4);
  out.append(kOpenSshBegin).push_back('\n');
  keys_internal::AppendBase64(file.span(), kOpenSshLineLength, &out);
  out.push_back('\n');
  out.append(kOpenSshEnd).push_back('\n');
  base::SecretBytes text = base::SecretBytes::FromString(out);
  OPENSSL_cleanse(out.data(), out.size());
  return text;
}

absl::Status PrivateKey::WriteFile(const std::string& path,
                                   std::string_view comment) const {
  ASSIGN_OR_RETURN(base::SecretBytes text, ToOpenSshFormat(comment));
  absl::Status status;
  // O_NOFOLLOW: never write a private key through a symlink.
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
           0600);
  if (fd < 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("creating ", path));
  } else {
    // An existing file keeps its old mode through O_CREAT; force 0600.
    if (fchmod(fd, 0600) != 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("chmod ", path));
    }
    size_t done = 0;
    while (status.ok() && done < text.size()) {
      ssize_t n = write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("writing ", path));
        break;
      }
      done += static_cast<size_t>(n);
    }
    if (status.ok() && fsync(fd) != 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("fsync ", path));
    }
    if (close(fd) != 0 && status.ok()) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("closing ", path));
    }
  }
  return status;
}

}  // namespace sallyport::ssh::crypto
