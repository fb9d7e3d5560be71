#include "cli/ca_client.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "base/address_list.h"
#include "base/openssl_handles.h"

namespace sallyport::cli {
namespace {

// Whether the TLS login certificate has expired: the CA then ends the
// handshake, which gRPC reports as "cannot reach the CA ... Socket closed".
bool LoginCertificateExpired(const std::string& cert_pem) {
  base::BioPtr bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  base::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return false;  // the CA will say what is wrong with it
  }
  return X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0;
}

}  // namespace

std::string GrpcTarget(const HostPort& ca) {
  return ca.host.find(':') != std::string::npos
             ? absl::StrCat("[", ca.host, "]:", ca.port)
             : absl::StrCat(ca.host, ":", ca.port);
}

absl::Status CheckPageLimit(size_t pages, size_t max_pages,
                            absl::string_view limit) {
  if (pages < max_pages) return absl::OkStatus();
  std::string why =
      absl::StrCat("the CA's answer runs past ", max_pages, " pages");
  if (!limit.empty()) absl::StrAppend(&why, ", ", limit);
  return absl::FailedPreconditionError(why);
}

absl::StatusOr<HostPort> ParseCaAddress(std::string_view text) {
  if (text.find(',') != std::string_view::npos) {
    return absl::InvalidArgumentError("expected one address");
  }
  absl::StatusOr<std::vector<HostPort>> one = ParseCaAddresses(text);
  if (!one.ok()) return one.status();
  return (*one)[0];
}

absl::StatusOr<std::vector<HostPort>> ParseCaAddresses(std::string_view text) {
  return base::ParseAddressList(text, kDefaultCaPort);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CaChannel(
    const std::vector<HostPort>& cas, const std::string& ca_pem,
    const std::string& client_key_pem, const std::string& client_cert_pem) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca_pem;
  tls.pem_private_key = client_key_pem;
  tls.pem_cert_chain = client_cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kCaTlsName);
  return base::FailoverChannel(cas, grpc::SslCredentials(tls), args);
}

absl::StatusOr<LoggedIn> OpenLoggedIn(const SpHome& home,
                                      std::string_view ca_override) {
  absl::StatusOr<SpState> state = home.ReadState();
  if (!state.ok()) return state.status();
  if (state->user.empty() || state->ca.empty()) {
    return absl::FailedPreconditionError(kNotLoggedIn);
  }
  absl::StatusOr<std::string> pem = ReadTextFile(home.ca_pem());
  absl::StatusOr<std::string> key = ReadTextFile(home.tls_key());
  absl::StatusOr<std::string> cert = ReadTextFile(home.tls_cert());
  if (!pem.ok() || !key.ok() || !cert.ok()) {
    return absl::FailedPreconditionError(kNotLoggedIn);
  }
  if (LoginCertificateExpired(*cert)) {
    OPENSSL_cleanse(key->data(), key->size());
    return absl::FailedPreconditionError(kLoginExpired);
  }
  LoggedIn out;
  out.ca_text = ca_override.empty() ? state->ca : std::string(ca_override);
  absl::StatusOr<std::vector<HostPort>> cas = ParseCaAddresses(out.ca_text);
  if (!cas.ok()) return cas.status();
  out.cas = *std::move(cas);
  out.user = state->user;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CaChannel(out.cas, *pem, *key, *cert);
  OPENSSL_cleanse(key->data(), key->size());
  if (!channel.ok()) return channel.status();
  out.channel = *std::move(channel);
  return out;
}

}  // namespace sallyport::cli
