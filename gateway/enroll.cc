#include "gateway/enroll.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/address_list.h"
#include "base/files.h"
#include "base/host_port.h"
#include "base/openssl_handles.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "base/tls_pin.h"
#include "proto/gateway.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::gateway {
namespace {

namespace v1 = ::sallyport::gateway::v1;

absl::Status FromGrpc(const grpc::Status& st) {
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      st.error_message());
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Whether the first certificate in `pem` certifies the key whose DER
// SubjectPublicKeyInfo is `public_der`.
bool CertificateIsForKey(std::string_view pem, std::string_view public_der) {
  absl::StatusOr<std::string> certified = base::PublicDerOfCertificatePem(pem);
  return certified.ok() && *certified == public_der;
}

// The DER SubjectPublicKeyInfo of the private key in files.tls_key, the
// PEM wiped. Errors name the file.
absl::StatusOr<std::string> TlsKeyPublicDer(const GatewaySettings& settings) {
  ASSIGN_OR_RETURN(std::string key_pem,
                   base::ReadTextFile(settings.files.tls_key));
  absl::StatusOr<std::string> der = base::PublicDerOfPrivatePem(key_pem);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!der.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(settings.files.tls_key, ": ", der.status().message()));
  }
  return der;
}

std::string DefaultName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return "";
  std::string name(host);
  return name.substr(0, name.find('.'));
}

std::string StatePath(const std::string& dir, std::string_view file) {
  return (std::filesystem::path(dir) / std::string(file)).string();
}

std::string ModeText(mode_t mode) {
  char text[8];
  snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// A missing state dir is created with mode 0700. One that exists is the
// admin's (it may be shared, like /var/lib): its mode is left as it is,
// but it is refused when another user owns it or group or others may
// write to it, since they could then swap the keys, certificates or
// config the gateway trusts. One that group or others may read gets a
// warning (the keys in it are 0600 whatever it is).
absl::Status PrepareStateDir(const std::string& dir, bool force,
                             std::vector<std::string>* warnings) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(),
                                      ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  if (mkdir(dir.c_str(), 0700) == 0) {
    // Ours, just made: exactly 0700 whatever the umask.
    if (chmod(dir.c_str(), 0700) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot make ", dir, " mode 0700: ", strerror(errno)));
    }
  } else if (errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir, ": ", strerror(errno)));
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use ", dir, ": ", strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--state-dir ", dir, " is not a directory"));
  }
  if (st.st_uid != geteuid()) {
    const std::string me = absl::StrCat(geteuid());
    return absl::PermissionDeniedError(absl::StrCat(
        "--state-dir ", dir, " is owned by uid ", st.st_uid, ", not by uid ",
        me,
        " that enroll (and then the gateway) runs as; run enroll as the "
        "gateway's user, give it the directory (chown ",
        me, " ", dir, " && chmod 700 ", dir,
        "), or pass a --state-dir of its own"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "--state-dir ", dir, " has mode ", ModeText(st.st_mode),
        ": group or others may write to it and could replace the gateway's "
        "keys or config; it must be 0700 (chmod 700 ",
        dir, "), or pass a --state-dir of its own"));
  }
  if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    warnings->push_back(absl::StrCat(
        dir, " has mode ", ModeText(st.st_mode),
        ": group or others may list it (the keys in it are 0600); chmod 700 ",
        dir, " to hide it"));
  }
  for (std::string_view file :
       {kConfigFileName, kDefaultHostKeyFile, kDefaultTlsKeyFile}) {
    if (access(StatePath(dir, file).c_str(), F_OK) == 0 && !force) {
      return absl::AlreadyExistsError(absl::StrCat(
          dir, " already holds a gateway identity (", std::string(file),
          "); pass --force to enrol again and replace it"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EnrollResult> Enroll(const EnrollOptions& options) {
  // Checks that need no network.
  absl::StatusOr<base::HostPort> ca = base::ParseHostPort(options.ca);
  if (!ca.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--ca: \"", base::SafeText(options.ca), "\": ", ca.status().message()));
  }
  if (!base::ParseFingerprint(options.ca_fingerprint).ok()) {
    return absl::InvalidArgumentError(
        "--ca-fingerprint: expected SHA256:<base64> or 64 hex digits (the "
        "fingerprint `sallyport-ca init` printed)");
  }
  if (options.token.empty()) {
    return absl::InvalidArgumentError("--token: a join token is required");
  }
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError("--state-dir is required");
  }
  std::string state_dir = AbsolutePath(options.state_dir);
  if (state_dir.size() > 1 && state_dir.back() == '/') state_dir.pop_back();
  const std::string name = options.name.empty() ? DefaultName() : options.name;

  // The config this enrolment will write, checked before anything else
  // happens (it also checks the name).
  config::GatewayConfig config;
  config.set_listen(std::string(kDefaultListen));
  config.set_ca(options.ca);
  config.set_ca_fingerprint(options.ca_fingerprint);
  config.set_metrics_listen(std::string(kDefaultMetricsListen));
  config.set_log_format("text");
  config.set_name(name);
  config::GatewayLimits* limits = config.mutable_limits();
  const GatewayLimitSettings defaults;
  limits->set_max_startups(absl::StrCat(defaults.max_startups.start, ":",
                                        defaults.max_startups.rate, ":",
                                        defaults.max_startups.full));
  limits->mutable_login_grace()->set_seconds(
      absl::ToInt64Seconds(defaults.login_grace));
  limits->set_max_auth_tries(defaults.max_auth_tries);
  limits->set_max_channels_per_connection(defaults.max_channels_per_connection);
  limits->set_max_sessions_per_user(defaults.max_sessions_per_user);
  limits->mutable_idle_timeout()->set_seconds(0);
  limits->set_max_buffered_bytes_per_connection(
      defaults.max_buffered_bytes_per_connection);
  config::GatewayFiles* files = config.mutable_files();
  files->set_host_key(std::string(kDefaultHostKeyFile));
  files->set_host_certificate(std::string(kDefaultHostCertificateFile));
  files->set_tls_key(std::string(kDefaultTlsKeyFile));
  files->set_tls_certificate(std::string(kDefaultTlsCertificateFile));
  files->set_ca_certificate(std::string(kDefaultCaCertificateFile));
  config.mutable_drain_timeout()->set_seconds(30);
  config.mutable_revocation_grace()->set_seconds(60);
  if (absl::Status st = ValidateGatewayName(name); !st.ok()) {
    return absl::InvalidArgumentError(
        options.name.empty()
            ? absl::StrCat("--name is required: this machine's host name \"",
                           base::SafeText(name),
                           "\" is not a valid gateway name")
            : absl::StrCat("--name: ", st.message()));
  }
  RETURN_IF_ERROR(SettingsFromConfig(config, state_dir).status());
  EnrollResult result;
  RETURN_IF_ERROR(PrepareStateDir(state_dir, options.force, &result.warnings));

  // The CA must present the certificate the operator vouched for.
  absl::StatusOr<base::ServerCertificate> presented =
      base::FetchServerCertificate(*ca, kCaTlsName, options.timeout);
  if (!presented.ok()) {
    return absl::Status(presented.status().code(),
                        absl::StrCat("cannot reach the CA at ", options.ca,
                                     ": ", presented.status().message()));
  }
  if (!base::SameFingerprint(presented->fingerprint, options.ca_fingerprint)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the CA at ", options.ca,
        " presented a TLS certificate with fingerprint ",
        presented->fingerprint, ", not the expected ", options.ca_fingerprint,
        "; enrolment refused (nothing was sent)"));
  }

  ASSIGN_OR_RETURN(ssh::crypto::PrivateKey host_key,
                   ssh::crypto::PrivateKey::GenerateEd25519());
  ASSIGN_OR_RETURN(base::TlsClientKey tls_key, base::GenerateTlsClientKey());

  v1::EnrollGatewayRequest request;
  request.set_token(options.token);
  request.set_name(name);
  request.set_tls_public_key_der(tls_key.public_der);
  request.set_ssh_host_public_key(host_key.public_key().ToAuthorizedKeysLine());
  for (const std::string& p : options.principals) request.add_principals(p);

  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = presented->pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kCaTlsName);
  auto channel = grpc::CreateCustomChannel(base::FormatHostPort(*ca),
                                           grpc::SslCredentials(tls), args);
  v1::EnrollGatewayResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  grpc::Status st =
      v1::Gateway::NewStub(channel)->EnrollGateway(&ctx, request, &response);
  OPENSSL_cleanse(request.mutable_token()->data(), request.token().size());
  if (!st.ok()) {
    switch (st.error_code()) {
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::PERMISSION_DENIED:
        return absl::UnauthenticatedError(absl::StrCat(
            "join token refused: ", base::SafeText(st.error_message()),
            " (ask an admin for a new token of kind \"gateway\")"));
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return absl::Status(
            static_cast<absl::StatusCode>(st.error_code()),
            absl::StrCat("cannot reach the CA at ", options.ca, ": ",
                         base::SafeText(st.error_message())));
      default:
        return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                            absl::StrCat("enrolment refused by the CA: ",
                                         base::SafeText(st.error_message())));
    }
  }

  // The answer must certify the keys we sent.
  absl::StatusOr<ssh::cert::Certificate> host_cert =
      ssh::cert::Certificate::FromLine(
          response.host_certificate().ssh_certificate());
  if (!host_cert.ok() || host_cert->type != ssh::cert::CertType::kHost ||
      host_cert->key != host_key.public_key()) {
    return absl::InvalidArgumentError(
        "the CA returned a host certificate that is not for our host key");
  }
  if (!CertificateIsForKey(response.tls_client_certificate_pem(),
                           tls_key.public_der)) {
    return absl::InvalidArgumentError(
        "the CA returned a client certificate that is not for our TLS key");
  }

  // `enroll --force` replaces an identity that may be in use, and a crash
  // (or a full disk) must not leave a half-written one. Every file is
  // first written whole under a temporary name: a failure up to there
  // replaces nothing. Then they are renamed into place back to back, each
  // key just before its certificate (a key and a certificate that do not
  // match are the only mix a crash can leave, for the microseconds between
  // two renames), the directory is synced so that these renames are on
  // disk, and gateway.yaml is renamed last and synced: whatever a crash
  // leaves, each file is whole, old or new, and a new gateway.yaml only
  // ever names files whose new versions are on disk. A first enrolment is
  // the same: a gateway.yaml on disk means a whole identity.
  ASSIGN_OR_RETURN(
      base::SecretBytes host_key_text,
      host_key.ToOpenSshFormat(absl::StrCat(name, "@sallyport-gateway")));
  result.config_path = StatePath(state_dir, kConfigFileName);
  ASSIGN_OR_RETURN(std::string config_text,
                   GeneratedConfigText(result.config_path, config));
  struct File {
    std::string_view name;
    std::string_view data;
    int mode;
  };
  const std::string host_certificate =
      absl::StrCat(response.host_certificate().ssh_certificate(), "\n");
  std::vector<base::StagedFile> staged;
  for (const File& f : {
           File{kDefaultCaCertificateFile, presented->pem, 0644},
           File{kDefaultTlsKeyFile, tls_key.private_pem.view(), 0600},
           File{kDefaultTlsCertificateFile,
                response.tls_client_certificate_pem(), 0644},
           File{kDefaultHostKeyFile, host_key_text.view(), 0600},
           File{kDefaultHostCertificateFile, host_certificate, 0644},
           File{kConfigFileName, config_text, 0600},
       }) {
    ASSIGN_OR_RETURN(
        base::StagedFile file,
        base::StagedFile::Write(StatePath(state_dir, f.name), f.data, f.mode));
    staged.push_back(std::move(file));
  }
  for (base::StagedFile& file : staged) {
    if (file.path() == result.config_path) {
      RETURN_IF_ERROR(base::SyncDirectoryOf(file.path()));
    }
    RETURN_IF_ERROR(file.Commit());
  }
  RETURN_IF_ERROR(base::SyncDirectoryOf(result.config_path));
  result.name = name;
  result.host_principals = host_cert->principals;
  result.tls_valid_before = FromTimestamp(response.tls_valid_before());
  result.host_certificate_valid_before =
      host_cert->valid_before > static_cast<uint64_t>(INT64_MAX)
          ? absl::InfiniteFuture()
          : absl::FromUnixSeconds(
                static_cast<int64_t>(host_cert->valid_before));
  return result;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenCaChannel(
    const GatewaySettings& settings) {
  ASSIGN_OR_RETURN(std::vector<base::HostPort> cas,
                   base::ParseAddressList(settings.ca, /*default_port=*/0));
  grpc::SslCredentialsOptions tls;
  ASSIGN_OR_RETURN(tls.pem_root_certs,
                   base::ReadTextFile(settings.files.ca_certificate));
  ASSIGN_OR_RETURN(tls.pem_cert_chain,
                   base::ReadTextFile(settings.files.tls_certificate));
  // The private key last: every way out after it wipes it.
  ASSIGN_OR_RETURN(tls.pem_private_key,
                   base::ReadTextFile(settings.files.tls_key));
  // The pinned certificate must still be the one the config names.
  absl::StatusOr<std::string> fp = base::PemFingerprint(tls.pem_root_certs);
  if (!fp.ok() || !base::SameFingerprint(*fp, settings.ca_fingerprint)) {
    OPENSSL_cleanse(tls.pem_private_key.data(), tls.pem_private_key.size());
    return absl::FailedPreconditionError(
        absl::StrCat(settings.files.ca_certificate,
                     " is not the CA certificate with the configured "
                     "ca_fingerprint ",
                     settings.ca_fingerprint));
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kCaTlsName);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      base::FailoverChannel(cas, grpc::SslCredentials(tls), args);
  OPENSSL_cleanse(tls.pem_private_key.data(), tls.pem_private_key.size());
  return channel;
}

absl::Status KeyPairMismatch(const GatewaySettings& settings,
                             IdentityPair pair) {
  const bool host = pair == IdentityPair::kHost;
  std::string fix = "run `sallyport-gateway enroll --force` again";
  if (!settings.name.empty()) {
    absl::StrAppend(&fix, " with a join token for ", settings.name,
                    " (spctl tokens create --kind gateway --gateway-name ",
                    settings.name, ")");
  }
  return absl::FailedPreconditionError(absl::StrCat(
      host ? "files.host_key " : "files.tls_key ",
      host ? settings.files.host_key : settings.files.tls_key,
      " is not the key that ",
      host ? "files.host_certificate " : "files.tls_certificate ",
      host ? settings.files.host_certificate : settings.files.tls_certificate,
      " certifies: the two are from different enrolments (an `enroll "
      "--force` cut short, or a file copied from another identity); ",
      fix));
}

namespace {
// CheckTlsKeyPair, returning the key's DER SubjectPublicKeyInfo.
absl::StatusOr<std::string> CheckedTlsKeyPublicDer(
    const GatewaySettings& settings) {
  ASSIGN_OR_RETURN(std::string key_der, TlsKeyPublicDer(settings));
  ASSIGN_OR_RETURN(std::string pem,
                   base::ReadTextFile(settings.files.tls_certificate));
  absl::StatusOr<std::string> certified = base::PublicDerOfCertificatePem(pem);
  if (!certified.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        settings.files.tls_certificate, ": ", certified.status().message()));
  }
  if (*certified != key_der) {
    return KeyPairMismatch(settings, IdentityPair::kTls);
  }
  return key_der;
}
}  // namespace

absl::Status CheckTlsKeyPair(const GatewaySettings& settings) {
  return CheckedTlsKeyPublicDer(settings).status();
}

absl::StatusOr<absl::Time> RenewIdentity(
    const GatewaySettings& settings,
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  // Only the key the current certificate certifies is renewed: another
  // one there (a crash in `enroll --force`, a copied file) is refused, not
  // certified.
  ASSIGN_OR_RETURN(std::string der, CheckedTlsKeyPublicDer(settings));
  v1::RenewGatewayIdentityRequest request;
  request.set_tls_public_key_der(der);
  v1::RenewGatewayIdentityResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::Status st = v1::Gateway::NewStub(channel)->RenewGatewayIdentity(
      &ctx, request, &response);
  if (!st.ok()) return FromGrpc(st);
  if (!CertificateIsForKey(response.tls_client_certificate_pem(), der)) {
    return absl::InvalidArgumentError(
        "the CA returned a client certificate that is not for our TLS key");
  }
  // A key replaced during the call (`enroll --force` meanwhile) keeps the
  // certificate written with it.
  absl::StatusOr<std::string> now = TlsKeyPublicDer(settings);
  if (!now.ok() || *now != der) {
    return absl::AbortedError(absl::StrCat(
        settings.files.tls_key,
        " was replaced during the renewal; the renewed certificate, for the "
        "key it replaced, is not written"));
  }
  RETURN_IF_ERROR(base::WriteFileAtomic(settings.files.tls_certificate,
                                        response.tls_client_certificate_pem(),
                                        0644));
  return FromTimestamp(response.tls_valid_before());
}

namespace {
absl::StatusOr<absl::Time> Asn1Time(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InvalidArgumentError("unreadable validity time");
  }
  return absl::FromUnixSeconds(timegm(&tm));
}
}  // namespace

absl::StatusOr<CertificateLifetime> ReadTlsCertificateLifetime(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, base::ReadTextFile(path));
  base::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  base::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a PEM certificate"));
  }
  CertificateLifetime life;
  absl::StatusOr<absl::Time> nb = Asn1Time(X509_get0_notBefore(cert.get()));
  absl::StatusOr<absl::Time> na = Asn1Time(X509_get0_notAfter(cert.get()));
  if (!nb.ok() || !na.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unreadable certificate validity"));
  }
  life.not_before = *nb;
  life.not_after = *na;
  return life;
}

}  // namespace sallyport::gateway
