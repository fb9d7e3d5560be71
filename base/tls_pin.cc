#include "base/tls_pin.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/openssl_handles.h"

namespace sallyport::base {
namespace {

using SslCtxPtr =
    std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL, SSL_free>>;

// The DER SubjectPublicKeyInfo of `key`'s public part.
absl::StatusOr<std::string> PublicDer(const EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return absl::InternalError("i2d_PUBKEY failed");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string DerFingerprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), digest, &len);
  std::string b64 =
      absl::Base64Escape(std::string(reinterpret_cast<char*>(digest), len));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return absl::StrCat("SHA256:", b64);
}

// On the steady clock: a wall clock set back during a handshake (NTP after
// a VM resume, `date -s`) put a wall-clock deadline off by the step.
using SteadyTime = std::chrono::steady_clock::time_point;

// Waits for `events` on fd until `deadline`.
absl::Status WaitFor(int fd, short events, SteadyTime deadline) {
  for (;;) {
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           deadline - std::chrono::steady_clock::now())
                           .count();
    if (ms <= 0) return absl::DeadlineExceededError("timed out");
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, static_cast<int>(ms));
    if (rc > 0) return absl::OkStatus();
    if (rc == 0) return absl::DeadlineExceededError("timed out");
    if (errno != EINTR) return absl::UnavailableError(strerror(errno));
  }
}

absl::StatusOr<int> Connect(const HostPort& address, SteadyTime deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(address.port);
  int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", address.host, ": ", gai_strerror(rc)));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
      absl::Status st = WaitFor(fd, POLLOUT, deadline);
      int err = 0;
      socklen_t len = sizeof(err);
      if (st.ok() && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
          err == 0) {
        freeaddrinfo(res);
        return fd;
      }
      last_error = st.ok() ? strerror(err) : std::string(st.message());
    } else {
      last_error = strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(res);
  return absl::UnavailableError(last_error);
}

}  // namespace

absl::StatusOr<ServerCertificate> FetchServerCertificate(
    const HostPort& address, std::string_view sni, absl::Duration timeout) {
  const SteadyTime deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  absl::StatusOr<int> fd_or = Connect(address, deadline);
  if (!fd_or.ok()) return fd_or.status();
  Fd fd(*fd_or);
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // No verification here: the caller decides on the fingerprint.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  SslPtr ssl(SSL_new(ctx.get()));
  if (ssl == nullptr) return absl::InternalError("SSL_new failed");
  SSL_set_fd(ssl.get(), fd.get());
  const std::string sni_str(sni);
  SSL_set_tlsext_host_name(ssl.get(), sni_str.c_str());
  for (;;) {
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int err = SSL_get_error(ssl.get(), rc);
    absl::Status st;
    if (err == SSL_ERROR_WANT_READ) {
      st = WaitFor(fd.get(), POLLIN, deadline);
    } else if (err == SSL_ERROR_WANT_WRITE) {
      st = WaitFor(fd.get(), POLLOUT, deadline);
    } else {
      return absl::UnavailableError(
          absl::StrCat("TLS handshake failed: ", OpenSslErrorString()));
    }
    if (!st.ok()) return st;
  }
  X509Ptr cert(SSL_get1_peer_certificate(ssl.get()));
  if (cert == nullptr) {
    return absl::UnavailableError("the server presented no certificate");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  ServerCertificate out;
  out.pem.assign(data, static_cast<size_t>(len));
  out.fingerprint = DerFingerprint(cert.get());
  SSL_shutdown(ssl.get());
  return out;
}

absl::StatusOr<std::string> PemFingerprint(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  return DerFingerprint(cert.get());
}

absl::StatusOr<std::vector<uint8_t>> ParseFingerprint(std::string_view text) {
  std::string s(
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  std::string hex;
  for (char c : s) {
    if (c != ':') hex.push_back(c);
  }
  if (hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
        return absl::ascii_isxdigit(static_cast<unsigned char>(c));
      })) {
    std::string raw = absl::HexStringToBytes(hex);
    return std::vector<uint8_t>(raw.begin(), raw.end());
  }
  absl::string_view b64(s);
  if (b64.size() > 7 && absl::EqualsIgnoreCase(b64.substr(0, 7), "SHA256:")) {
    b64.remove_prefix(7);
  }
  std::string raw;
  if (b64.size() == 43 && absl::Base64Unescape(b64, &raw) && raw.size() == 32) {
    return std::vector<uint8_t>(raw.begin(), raw.end());
  }
  return absl::InvalidArgumentError(
      "a fingerprint is SHA256:<base64> or 64 hex digits");
}

bool SameFingerprint(std::string_view a, std::string_view b) {
  absl::StatusOr<std::vector<uint8_t>> x = ParseFingerprint(a);
  absl::StatusOr<std::vector<uint8_t>> y = ParseFingerprint(b);
  return x.ok() && y.ok() && *x == *y;
}

absl::StatusOr<TlsClientKey> GenerateTlsClientKey() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return absl::InternalError("cannot generate a TLS key");
  TlsClientKey out;
  absl::StatusOr<std::string> der = PublicDer(key.get());
  if (!der.ok()) return der.status();
  out.public_der = std::move(*der);
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0,
                               nullptr, nullptr) != 1) {
    return absl::InternalError("cannot encode the TLS key");
  }
  char* data = nullptr;
  const long pem_len = BIO_get_mem_data(bio.get(), &data);
  out.private_pem = SecretBytes(absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(pem_len)));
  return out;
}

absl::StatusOr<std::string> PublicDerOfPrivatePem(
    std::string_view private_pem) {
  BioPtr bio(BIO_new_mem_buf(private_pem.data(),
                             static_cast<int>(private_pem.size())));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM private key");
  }
  return PublicDer(key.get());
}

absl::StatusOr<std::string> PublicDerOfCertificatePem(
    std::string_view certificate_pem) {
  BioPtr bio(BIO_new_mem_buf(certificate_pem.data(),
                             static_cast<int>(certificate_pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  const EVP_PKEY* key =
      cert != nullptr ? X509_get0_pubkey(cert.get()) : nullptr;
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  return PublicDer(key);
}

}  // namespace sallyport::base
