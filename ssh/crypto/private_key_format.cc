// Private key files: the openssh-key-v1 (OpenSSH PROTOCOL.key) and PEM
// formats, read and written. The keys themselves: private_key.cc.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "ssh/crypto/keys.h"
#include "ssh/crypto/keys_internal.h"
#include "ssh/crypto/private_key_internal.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::crypto {

using keys_internal::ClearOpenSslErrors;
using keys_internal::kMaxNameLength;
using keys_internal::kRsaName;
using keys_internal::Str;
using private_key_internal::CheckKeyPair;
using private_key_internal::ParsePrivateFields;
using private_key_internal::PublicKeyOf;
using private_key_internal::RsaPrivateKeyError;
using private_key_internal::WritePrivateFields;

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

}  // namespace

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
