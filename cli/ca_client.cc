#include "cli/ca_client.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sallyport::cli {

std::string GrpcTarget(const HostPort& ca) {
  return ca.host.find(':') != std::string::npos
             ? absl::StrCat("[", ca.host, "]:", ca.port)
             : absl::StrCat(ca.host, ":", ca.port);
}

absl::StatusOr<HostPort> ParseCaAddress(std::string_view text) {
  const bool bracketed = !text.empty() && text[0] == '[';
  const size_t colons = std::count(text.begin(), text.end(), ':');
  const bool has_port =
      bracketed ? text.find("]:") != std::string_view::npos : colons == 1;
  if (!has_port && !(colons > 1 && !bracketed)) {
    return ParseHostPort(absl::StrCat(std::string(text), ":", kDefaultCaPort));
  }
  if (!bracketed && colons > 1) {
    return absl::InvalidArgumentError(
        "write an IPv6 address in brackets: [V6] or [V6]:PORT");
  }
  return ParseHostPort(text);
}

std::shared_ptr<grpc::Channel> CaChannel(const HostPort& ca,
                                         const std::string& ca_pem,
                                         const std::string& client_key_pem,
                                         const std::string& client_cert_pem) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca_pem;
  tls.pem_private_key = client_key_pem;
  tls.pem_cert_chain = client_cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kCaTlsName);
  return grpc::CreateCustomChannel(GrpcTarget(ca), grpc::SslCredentials(tls),
                                   args);
}

absl::StatusOr<LoggedIn> OpenLoggedIn(const SpHome& home) {
  static constexpr char kRunLogin[] = "not logged in: run `sp login` first";
  absl::StatusOr<SpState> state = home.ReadState();
  if (!state.ok()) return state.status();
  if (state->user.empty() || state->ca.empty()) {
    return absl::FailedPreconditionError(kRunLogin);
  }
  absl::StatusOr<std::string> pem = ReadFile(home.ca_pem());
  absl::StatusOr<std::string> key = ReadFile(home.tls_key());
  absl::StatusOr<std::string> cert = ReadFile(home.tls_cert());
  if (!pem.ok() || !key.ok() || !cert.ok()) {
    return absl::FailedPreconditionError(kRunLogin);
  }
  absl::StatusOr<HostPort> ca = ParseCaAddress(state->ca);
  if (!ca.ok()) return ca.status();
  LoggedIn out;
  out.ca_text = state->ca;
  out.user = state->user;
  out.channel = CaChannel(*ca, *pem, *key, *cert);
  OPENSSL_cleanse(key->data(), key->size());
  return out;
}

}  // namespace sallyport::cli
