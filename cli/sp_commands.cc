#include "cli/sp_commands.h"

#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/openssl_handles.h"
#include "base/secret_bytes.h"
#include "cli/sp_home.h"
#include "cli/ssh_agent.h"
#include "cli/terminal.h"
#include "cli/tls_pin.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::cli {
namespace {

namespace v1 = ::sallyport::ca::v1;

// The DNS name in the CA's certificate (ca/tls_material.h kServerTlsName):
// the certificate itself is pinned, so the name is only a formality.
constexpr char kCaTlsName[] = "sallyport-ca";

int Error(std::ostream& err, absl::string_view message) {
  err << "sp: " << message << "\n";
  return 1;
}

std::string HumanDuration(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return "expired";
  const int64_t minutes = absl::ToInt64Minutes(d);
  if (minutes < 1) return "less than a minute";
  return absl::StrCat(minutes / 60, "h",
                      absl::Dec(minutes % 60, absl::kZeroPad2), "m");
}

std::string HumanTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", t, absl::LocalTimeZone());
}

// Checks the CA's certificate against the pin (or pins it on first
// contact). Returns the pinned PEM, or an exit code after printing why.
absl::StatusOr<std::string> TrustCa(const SpHome& home, const HostPort& ca,
                                    const std::string& ca_text,
                                    const std::string& expected,
                                    std::ostream& out, std::ostream& err) {
  absl::StatusOr<ServerCertificate> presented =
      FetchServerCertificate(ca, kCaTlsName);
  if (!presented.ok()) {
    err << "sp: cannot reach the CA at " << ca_text << ": "
        << presented.status().message() << "\n";
    return absl::UnavailableError("unreachable");
  }
  absl::StatusOr<std::string> pinned = ReadFile(home.ca_pem());
  if (pinned.ok()) {
    absl::StatusOr<std::string> pinned_fp = PemFingerprint(*pinned);
    if (!pinned_fp.ok() || *pinned_fp != presented->fingerprint) {
      err << ChangedCertificateWarning(
          ca_text, pinned_fp.ok() ? *pinned_fp : "(unreadable pin)",
          presented->fingerprint, home.ca_pem());
      return absl::PermissionDeniedError("changed");
    }
    return *pinned;
  }
  if (pinned.status().code() != absl::StatusCode::kNotFound) {
    err << "sp: " << pinned.status().message() << "\n";
    return pinned.status();
  }
  // First contact.
  if (!expected.empty()) {
    if (!ParseFingerprint(expected).ok()) {
      err << "sp: --ca-fingerprint: expected SHA256:<base64> or 64 hex "
             "digits\n";
      return absl::InvalidArgumentError("bad fingerprint");
    }
    if (!SameFingerprint(expected, presented->fingerprint)) {
      err << "sp: the CA at " << ca_text
          << " presented a TLS certificate with fingerprint\n    "
          << presented->fingerprint << "\nnot the expected\n    " << expected
          << "\nLogin refused.\n";
      return absl::PermissionDeniedError("mismatch");
    }
  } else {
    out << "The CA at " << ca_text
        << " presents a TLS certificate with fingerprint\n    "
        << presented->fingerprint << "\n";
    out.flush();
    absl::StatusOr<std::string> answer =
        PromptLine("Are you sure you want to trust it (yes/no)? ");
    if (!answer.ok()) {
      err << "sp: cannot ask you to confirm the CA's fingerprint (no "
             "terminal); pass --ca-fingerprint\n";
      return answer.status();
    }
    if (absl::AsciiStrToLower(absl::StripAsciiWhitespace(*answer)) != "yes") {
      err << "sp: the CA's certificate was not trusted; login cancelled\n";
      return absl::CancelledError("not trusted");
    }
  }
  if (absl::Status st = WriteFileAtomic(home.ca_pem(), presented->pem, 0644);
      !st.ok()) {
    err << "sp: " << st.message() << "\n";
    return st;
  }
  out << "Pinned the CA's certificate in " << home.ca_pem() << "\n";
  return presented->pem;
}

std::string LoginErrorMessage(const grpc::Status& st,
                              const std::string& ca_text) {
  switch (st.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return "login failed: wrong user name, password or one-time code";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "the account is locked after too many failed logins; try again "
             "later";
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat("the CA refused to issue a certificate: ",
                          st.error_message());
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("cannot reach the CA at ", ca_text, " (",
                          st.error_message(), ")");
    default:
      return absl::StrCat("login failed: ", st.error_message());
  }
}

std::string QuoteForSshConfig(const std::string& path) {
  return absl::StrCat("\"", path, "\"");
}

}  // namespace

int RunLogin(const LoginOptions& options, std::ostream& out,
             std::ostream& err) {
  absl::StatusOr<SpHome> home_or = SpHome::FromEnvironment();
  if (!home_or.ok()) return Error(err, home_or.status().message());
  const SpHome& home = *home_or;
  if (absl::Status st = home.Ensure(); !st.ok()) {
    return Error(err, st.message());
  }
  absl::StatusOr<SpState> state = home.ReadState();
  if (!state.ok()) return Error(err, state.status().message());
  const std::string ca_text = !options.ca.empty() ? options.ca : state->ca;
  const std::string user = !options.user.empty() ? options.user : state->user;
  if (ca_text.empty()) return Error(err, "which CA? pass --ca HOST:PORT");
  if (user.empty()) return Error(err, "which user? pass --user NAME");
  absl::StatusOr<HostPort> ca = ParseHostPort(ca_text);
  if (!ca.ok())
    return Error(err, absl::StrCat("--ca: ", ca.status().message()));
  if (absl::Status st = CheckUserNameForFiles(user); !st.ok()) {
    return Error(err, st.message());
  }

  absl::StatusOr<std::string> ca_pem =
      TrustCa(home, *ca, ca_text, options.ca_fingerprint, out, err);
  if (!ca_pem.ok()) return 1;

  // Password: from stdin for scripts, else from the terminal.
  absl::StatusOr<base::SecretBytes> password =
      options.password_stdin
          ? ReadSecretFromStdin()
          : PromptSecret(absl::StrCat("Password for ", user, ": "));
  if (!password.ok()) {
    return Error(err, absl::StrCat("cannot read the password: ",
                                   password.status().message()));
  }

  // The SSH key stays on this machine; only its public half is sent.
  const std::string key_path = home.key(user);
  absl::StatusOr<ssh::crypto::PrivateKey> key =
      ssh::crypto::PrivateKey::LoadFile(key_path);
  if (!key.ok()) {
    key = ssh::crypto::PrivateKey::GenerateEd25519();
    if (!key.ok()) return Error(err, key.status().message());
    const std::string comment = absl::StrCat(user, "@sallyport");
    if (absl::Status st = key->WriteFile(key_path, comment); !st.ok()) {
      return Error(err, st.message());
    }
    if (absl::Status st = WriteFileAtomic(
            home.public_key(user),
            key->public_key().ToAuthorizedKeysLine(comment) + "\n", 0644);
        !st.ok()) {
      return Error(err, st.message());
    }
  }
  absl::StatusOr<base::TlsClientKey> tls_key = base::GenerateTlsClientKey();
  if (!tls_key.ok()) return Error(err, tls_key.status().message());

  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = *ca_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kCaTlsName);
  auto channel = grpc::CreateCustomChannel(
      ca->host.find(':') != std::string::npos
          ? absl::StrCat("[", ca->host, "]:", ca->port)
          : absl::StrCat(ca->host, ":", ca->port),
      grpc::SslCredentials(tls), args);
  auto stub = v1::CertificateAuthority::NewStub(channel);

  v1::LoginRequest request;
  request.set_user(user);
  request.set_password(std::string(password->view()));
  request.set_otp(options.otp);
  request.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
  request.set_tls_public_key_der(tls_key->public_der);
  v1::LoginResponse response;
  grpc::Status st;
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    st = stub->Login(&ctx, request, &response);
    if (st.error_code() != grpc::StatusCode::FAILED_PRECONDITION ||
        !request.otp().empty()) {
      break;
    }
    absl::StatusOr<std::string> code = PromptLine("One-time code: ");
    if (!code.ok()) {
      return Error(err, "a one-time code is required: pass --otp CODE");
    }
    request.set_otp(std::string(absl::StripAsciiWhitespace(*code)));
  }
  {
    std::string& pw = *request.mutable_password();
    OPENSSL_cleanse(pw.data(), pw.size());
  }
  if (!st.ok()) return Error(err, LoginErrorMessage(st, ca_text));

  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::FromLine(response.ssh_certificate());
  if (!cert.ok() || cert->key != key->public_key()) {
    return Error(err, "the CA returned a certificate for another key");
  }
  const std::string cert_path = home.certificate(user);
  std::string known_hosts =
      "# Written by `sp login`: hosts with a certificate from the Sallyport "
      "host CA.\n";
  for (const auto& host_ca : response.ca_public_keys().host_ca()) {
    absl::StrAppend(&known_hosts, "@cert-authority * ", host_ca.public_key(),
                    "\n");
  }
  const std::string ssh_config = absl::StrCat(
      "# Written by `sp login` (user ", user, ", CA ", ca_text, ").\n",
      "# Use it from ~/.ssh/config with:  Include ", home.ssh_config(), "\n",
      "Host *\n", "    IdentityFile ", QuoteForSshConfig(key_path), "\n",
      "    CertificateFile ", QuoteForSshConfig(cert_path), "\n",
      "    UserKnownHostsFile ", QuoteForSshConfig(home.known_hosts()),
      " ~/.ssh/known_hosts\n");
  for (const auto& [path, data, mode] :
       std::vector<std::tuple<std::string, std::string, int>>{
           {cert_path, response.ssh_certificate() + "\n", 0644},
           {home.tls_key(), std::string(tls_key->private_pem.view()), 0600},
           {home.tls_cert(), response.tls_client_certificate_pem(), 0644},
           {home.known_hosts(), known_hosts, 0644},
           {home.ssh_config(), ssh_config, 0644}}) {
    if (absl::Status w = WriteFileAtomic(path, data, mode); !w.ok()) {
      return Error(err, w.message());
    }
  }
  if (absl::Status w = home.WriteState({ca_text, user}); !w.ok()) {
    return Error(err, w.message());
  }

  const absl::Time valid_before =
      absl::FromUnixSeconds(static_cast<int64_t>(cert->valid_before));
  const absl::Duration left = valid_before - absl::Now();
  out << "Logged in as " << user
      << " (principals: " << absl::StrJoin(cert->principals, ", ") << ")\n"
      << "Certificate valid until " << HumanTime(valid_before) << " ("
      << HumanDuration(left) << ")\n"
      << "Certificate: " << cert_path << "\n";
  if (AgentAvailable()) {
    if (absl::Status a = AgentAdd(key_path, left); a.ok()) {
      out << "Added the key and certificate to ssh-agent for "
          << HumanDuration(left) << "\n";
    } else {
      err << "sp: warning: could not add the key to ssh-agent: " << a.message()
          << "\n";
    }
  }
  return 0;
}

int RunStatus(std::ostream& out, std::ostream& err) {
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) return Error(err, home.status().message());
  absl::StatusOr<SpState> state = home->ReadState();
  if (!state.ok()) return Error(err, state.status().message());
  if (state->user.empty()) {
    out << "Not logged in (run `sp login`)\n";
    return 1;
  }
  absl::StatusOr<std::string> line = ReadFile(home->certificate(state->user));
  if (!line.ok()) {
    out << "Not logged in (run `sp login`)\n";
    return 1;
  }
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::FromLine(
          std::string(absl::StripTrailingAsciiWhitespace(*line)));
  if (!cert.ok()) {
    return Error(err, absl::StrCat(home->certificate(state->user),
                                   ": unreadable certificate"));
  }
  const absl::Time valid_before =
      absl::FromUnixSeconds(static_cast<int64_t>(cert->valid_before));
  const absl::Duration left = valid_before - absl::Now();
  std::string ca_line = state->ca;
  absl::StatusOr<std::string> pem = ReadFile(home->ca_pem());
  if (pem.ok()) {
    absl::StatusOr<std::string> fp = PemFingerprint(*pem);
    if (fp.ok()) absl::StrAppend(&ca_line, " (TLS ", *fp, ")");
  }
  out << "User:        " << state->user << "\n"
      << "Principals:  " << absl::StrJoin(cert->principals, ", ") << "\n"
      << "Valid until: " << HumanTime(valid_before) << "\n"
      << "Time left:   " << HumanDuration(left) << "\n"
      << "Serial:      " << cert->serial << "\n"
      << "CA:          " << ca_line << "\n";
  return left > absl::ZeroDuration() ? 0 : 1;
}

int RunLogout(std::ostream& out, std::ostream& err) {
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) return Error(err, home.status().message());
  absl::StatusOr<SpState> state = home->ReadState();
  if (!state.ok()) return Error(err, state.status().message());
  if (state->user.empty()) {
    out << "Not logged in\n";
    return 0;
  }
  const std::string key_path = home->key(state->user);
  if (AgentAvailable()) {
    // Needs the .pub and -cert.pub files, so before deleting them.
    if (!AgentRemove(key_path).ok()) {
      err << "sp: note: the key was not in ssh-agent\n";
    }
  }
  for (const std::string& path :
       {key_path, home->public_key(state->user), home->certificate(state->user),
        home->tls_key(), home->tls_cert()}) {
    if (absl::Status st = RemoveFile(path); !st.ok()) {
      return Error(err, st.message());
    }
  }
  if (absl::Status st = home->WriteState({state->ca, ""}); !st.ok()) {
    return Error(err, st.message());
  }
  out << "Logged out " << state->user << ": removed the key and certificate\n";
  return 0;
}

}  // namespace sallyport::cli
