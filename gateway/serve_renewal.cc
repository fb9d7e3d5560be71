// GatewayServer's certificate renewals (split from serve.cc, no behaviour
// change): the mTLS identity and the SSH host certificate, checked by the
// renewal thread every renew_check_interval and on SIGHUP.
#include "absl/strings/str_cat.h"
#include "gateway/enroll.h"
#include "gateway/renew_host.h"
#include "gateway/serve.h"
#include "gateway/serve_internal.h"

namespace sallyport::gateway {

absl::StatusOr<absl::Time> GatewayServer::RenewIdentityNow() {
  absl::MutexLock lock(&renew_mu_);
  return RenewIdentityLocked();
}

absl::StatusOr<absl::Time> GatewayServer::RenewIdentityLocked() {
  const GatewaySettings s = settings();
  absl::StatusOr<absl::Time> renewed = RenewIdentity(s, CaChannel());
  if (!renewed.ok()) {
    LogFailure(absl::StrCat("mTLS certificate renewal failed: ",
                            renewed.status().message()));
    return renewed.status();
  }
  tls_not_after_unix_ = absl::ToUnixSeconds(*renewed);
  renewals_.fetch_add(1);
  Log(absl::StrCat("mTLS certificate renewed, valid until ",
                   absl::FormatTime(*renewed)));
  // Presented from now on: the open connection keeps the old one, which
  // the CA refuses once it has expired.
  (void)ReconnectCa(/*only_if_changed=*/false);
  return renewed;
}

void GatewayServer::CheckRenewal() {
  const GatewaySettings s = settings();
  const absl::Time now = absl::Now();
  absl::StatusOr<CertificateLifetime> tls =
      ReadTlsCertificateLifetime(s.files.tls_certificate);
  if (!tls.ok()) {
    LogFailure(absl::StrCat("mTLS certificate: ", tls.status().message()));
  } else if (now >= tls->At(options_.renew_fraction)) {
    (void)RenewIdentityLocked();
  }
  // gwrest: the host certificate (Gateway.RenewGatewayHostCertificate),
  // presented to new connections at once.
  absl::StatusOr<ssh::cert::Certificate> host = ReadHostCertificate(s);
  if (!host.ok()) {
    LogFailure(absl::StrCat("host certificate: ", host.status().message()));
  } else if (now >=
             HostCertificateRenewalTime(*host, options_.renew_fraction)) {
    (void)RenewHostCertificateLocked();
  }
}

absl::StatusOr<absl::Time> GatewayServer::RenewHostCertificateNow() {
  absl::MutexLock lock(&renew_mu_);
  return RenewHostCertificateLocked();
}

absl::StatusOr<absl::Time> GatewayServer::RenewHostCertificateLocked() {
  const GatewaySettings s = settings();
  absl::StatusOr<ssh::cert::Certificate> renewed =
      RenewHostCertificate(s, CaChannel());
  if (!renewed.ok()) {
    LogFailure(absl::StrCat("host certificate renewal failed: ",
                            renewed.status().message()));
    return renewed.status();
  }
  absl::StatusOr<ssh::transport::ServerHostKey> host_key =
      serve_internal::LoadHostKey(s);
  if (!host_key.ok()) {
    LogFailure(absl::StrCat("host certificate renewed but not loaded: ",
                            host_key.status().message()));
    return host_key.status();
  }
  proxy_->SetHostKeys({*host_key});
  host_not_after_unix_ = serve_internal::CertificateNotAfter(*host_key);
  host_renewals_.fetch_add(1);
  const absl::Time until =
      absl::FromUnixSeconds(static_cast<int64_t>(renewed->valid_before));
  Log(absl::StrCat("host certificate renewed (serial ", renewed->serial,
                   "), valid until ", absl::FormatTime(until)));
  return until;
}

void GatewayServer::RenewIfDue() {
  absl::MutexLock lock(&renew_mu_);
  CheckRenewal();
}

void GatewayServer::RenewLoop() {
  for (;;) {
    RenewIfDue();
    base::SteadyMutexLock lock(&stop_renewal_mu_);
    if (stop_renewal_mu_.AwaitWithTimeout(absl::Condition(&stop_renewal_),
                                          options_.renew_check_interval)) {
      return;
    }
  }
}

}  // namespace sallyport::gateway
