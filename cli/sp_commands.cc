#include "cli/sp_commands.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/address_list.h"
#include "base/event_line.h"
#include "base/openssl_handles.h"
#include "base/safe_text.h"
#include "base/secret_bytes.h"
#include "ca/rbac/names.h"
#include "cli/ca_client.h"
#include "cli/cli_app.h"
#include "cli/exit_codes.h"
#include "cli/sp_config.h"
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

int Error(std::ostream& err, absl::string_view message) {
  err << "sp: " << message << "\n";
  return 1;
}

// A bad or missing command-line value.
int UsageError(std::ostream& err, absl::string_view message) {
  Error(err, message);
  return kExitUsage;
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

}  // namespace

std::string LoginErrorMessage(const grpc::Status& st,
                              const std::vector<HostPort>& cas) {
  const std::string said = base::EscapeControls(st.error_message());
  switch (st.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return "login failed: wrong user name, password or one-time code";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::StrCat(
          "the account is locked after too many failed logins; try again "
          "later or ask an admin (`spctl users unlock`) (",
          said, ")");
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat("the CA refused to issue a certificate: ", said);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return base::EscapeControls(base::UnreachableMessage("the CA", cas, st));
    default:
      return absl::StrCat("login failed: ", said);
  }
}

namespace {

int LoginExitCode(const grpc::Status& st) {
  switch (st.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return kExitWrongPassword;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return kExitLocked;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnreachable;
    default:
      return kExitError;
  }
}

// Removes the Sallyport identities of `user` from the agent: certificates
// signed by any of `user_ca_keys` and the keys they certify, so old logins
// leave nothing behind. Returns how many were removed.
int CleanAgent(const SpHome& home, const std::string& user,
               const std::vector<std::string>& user_ca_keys,
               std::ostream& err) {
  if (!AgentAvailable()) return 0;
  absl::StatusOr<std::vector<std::string>> lines = AgentList();
  if (!lines.ok()) {
    err << "sp: warning: " << lines.status().message() << "\n";
    return 0;
  }
  int removed = 0;
  for (const std::string& line :
       SallyportAgentLines(*lines, user, user_ca_keys)) {
    if (AgentRemoveLine(line, home.Path("agent-remove.pub")).ok()) ++removed;
  }
  return removed;
}

std::vector<std::string> StoredUserCaKeys(const SpHome& home) {
  std::vector<std::string> keys;
  absl::StatusOr<std::string> text = ReadTextFile(home.user_ca());
  if (!text.ok()) return keys;
  for (absl::string_view line :
       absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "#")) keys.emplace_back(line);
  }
  return keys;
}

// Through the shared escaper (base/event_line.h): text from the
// certificate or the CA (control characters, DEL, invalid UTF-8) cannot
// make `sp status --json` invalid JSON.
using base::JsonString;

std::string JsonList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& i : items) quoted.push_back(base::JsonString(i));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

}  // namespace

std::optional<std::string> CertAuthorityPattern(std::string_view ca_host) {
  const std::string host(ca_host);
  in6_addr addr6;
  in_addr addr4;
  if (inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
      inet_pton(AF_INET6, host.c_str(), &addr6) == 1) {
    return std::nullopt;
  }
  const size_t dot = host.find('.');
  if (dot == std::string::npos || dot + 1 >= host.size() ||
      host.find('.', dot + 1) == std::string::npos) {
    // "ca" or "ca.local": no domain narrower than a top-level one.
    return std::nullopt;
  }
  return absl::StrCat("*.", host.substr(dot + 1));
}

int RunLogin(const LoginOptions& options, std::ostream& out,
             std::ostream& err) {
  absl::StatusOr<SpHome> home_or = SpHome::FromEnvironment();
  if (!home_or.ok()) return Error(err, home_or.status().message());
  const SpHome& home = *home_or;
  // A value given empty is a mistake (an unset shell variable), never the
  // default: `--user ""` went on as the remembered user, `--ca-fingerprint
  // ""` as no fingerprint at all.
  for (const auto& [flag, value] :
       {std::pair{"--ca", &options.ca}, std::pair{"--user", &options.user},
        std::pair{"--otp", &options.otp}, std::pair{"--ttl", &options.ttl},
        std::pair{"--ca-fingerprint", &options.ca_fingerprint}}) {
    if (value->has_value() && (*value)->empty()) {
      return UsageError(err, absl::StrCat(flag, " must not be empty"));
    }
    // The CA's request fields are UTF-8 (protobuf strings): as spctl's
    // NonUtf8Argument, said here rather than by the serializer.
    if (value->has_value() && !base::IsValidUtf8(**value)) {
      return UsageError(err, absl::StrCat(flag, ": not valid UTF-8: \"",
                                          base::EscapeControls(**value), "\""));
    }
  }
  // A newline in --ca (its parts are stripped of spaces) went into the
  // ssh_config's header, where it began an ssh option every ssh refused,
  // and cut the state file's `ca=` line.
  if (options.ca.has_value() && !base::IsUtf8WithoutControls(*options.ca)) {
    return UsageError(err,
                      absl::StrCat("--ca: a control character in \"",
                                   base::EscapeControls(*options.ca), "\""));
  }
  std::optional<absl::Duration> ttl;
  if (options.ttl.has_value()) {
    absl::StatusOr<absl::Duration> parsed = ParseDurationFlag(*options.ttl);
    if (!parsed.ok()) {
      return UsageError(err,
                        absl::StrCat("--ttl: ", parsed.status().message()));
    }
    ttl = *parsed;
  }
  // Parsed before anything is written or sent: a fingerprint that is no
  // fingerprint would otherwise only show when compared.
  const std::string expected = options.ca_fingerprint.value_or("");
  if (!expected.empty() && !ParseFingerprint(expected).ok()) {
    return UsageError(
        err, absl::StrCat("--ca-fingerprint: want SHA256:<base64> or 64 hex "
                          "digits (':' between pairs allowed), not \"",
                          base::EscapeControls(expected), "\""));
  }
  // Checked before anything is written: a login whose ssh_config could
  // not name the key and certificate would be of no use to ssh.
  if (absl::Status st = CheckHomeForSsh(home); !st.ok()) {
    return Error(err, st.message());
  }
  if (absl::Status st = home.Ensure(); !st.ok()) {
    return Error(err, st.message());
  }
  absl::StatusOr<SpState> state = home.ReadState();
  if (!state.ok()) return Error(err, state.status().message());
  const std::string ca_text = options.ca.value_or(state->ca);
  const std::string user = options.user.value_or(state->user);
  if (ca_text.empty()) {
    return UsageError(err, "which CA? pass --ca HOST[:PORT][,HOST[:PORT]...]");
  }
  if (user.empty()) return UsageError(err, "which user? pass --user NAME");
  // A bad value of a flag is a usage error; of the state file, an error.
  absl::StatusOr<std::vector<HostPort>> cas = ParseCaAddresses(ca_text);
  if (!cas.ok()) {
    Error(err, absl::StrCat("--ca: ", cas.status().message()));
    return options.ca.has_value() ? kExitUsage : kExitError;
  }
  if (absl::Status st = CheckUserNameForFiles(user); !st.ok()) {
    Error(err, st.message());
    return options.user.has_value() ? kExitUsage : kExitError;
  }
  // The CA as parsed ("HOST:PORT, HOST:PORT") is what is written (the
  // state file, the ssh_config's header), never the text as typed.
  const std::string ca_list = base::FormatAddressList(*cas);

  absl::StatusOr<TrustedCa> trusted =
      TrustCa(home, *cas, ca_text, expected, out, err);
  if (!trusted.ok()) {
    switch (trusted.status().code()) {
      case absl::StatusCode::kUnavailable:
        return kExitUnreachable;
      case absl::StatusCode::kPermissionDenied:
        return kExitPinMismatch;
      default:
        return kExitError;
    }
  }

  // Password: from stdin for scripts, else from the terminal.
  absl::StatusOr<base::SecretBytes> password =
      options.password_stdin
          ? ReadSecretFromStdin()
          : PromptSecret(absl::StrCat("Password for ", user, ": "));
  if (!password.ok()) {
    // Without a terminal (a script, cron, ssh without -t) say how a
    // script gives it.
    return Error(
        err,
        absl::StrCat("cannot read the password: ", password.status().message(),
                     options.password_stdin ? ""
                                            : " (to give it on stdin, pass "
                                              "--password-stdin)"));
  }

  // A fresh key pair for every login (like `tsh login`); it stays on this
  // machine, only its public half is sent.
  const std::string key_path = home.key(user);
  absl::StatusOr<ssh::crypto::PrivateKey> key =
      ssh::crypto::PrivateKey::GenerateEd25519();
  if (!key.ok()) return Error(err, key.status().message());
  absl::StatusOr<base::TlsClientKey> tls_key = base::GenerateTlsClientKey();
  if (!tls_key.ok()) return Error(err, tls_key.status().message());

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CaChannel(*cas, trusted->pem);
  if (!channel.ok()) {
    Error(err, absl::StrCat("cannot reach the CA at ", ca_text, ": ",
                            channel.status().message()));
    return kExitUnreachable;
  }
  auto stub = v1::CertificateAuthority::NewStub(*channel);
  v1::LoginRequest request;
  request.set_user(user);
  request.set_password(std::string(password->view()));
  request.set_otp(options.otp.value_or(""));
  request.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
  request.set_tls_public_key_der(tls_key->public_der);
  if (ttl.has_value()) {
    const int64_t seconds = absl::ToInt64Seconds(*ttl);
    request.mutable_ttl()->set_seconds(seconds);
    request.mutable_ttl()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(*ttl - absl::Seconds(seconds))));
  }
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
  if (!st.ok()) {
    Error(err, LoginErrorMessage(st, *cas));
    return LoginExitCode(st);
  }

  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::FromLine(response.ssh_certificate());
  if (!cert.ok() || cert->key != key->public_key()) {
    return Error(err, "the CA returned a certificate for another key");
  }
  // The CA keys as they are written, parsed and re-encoded (CaKeyLine),
  // before anything is: a newline in one added lines of the CA's choosing
  // to known_hosts and user_ca.pub.
  std::vector<std::string> host_ca_keys, user_ca_keys;
  for (const auto& [keys, what, into] :
       {std::tuple{&response.ca_public_keys().host_ca(), "host CA key",
                   &host_ca_keys},
        std::tuple{&response.ca_public_keys().user_ca(), "user CA key",
                   &user_ca_keys}}) {
    for (const v1::CaPublicKey& k : *keys) {
      absl::StatusOr<std::string> line = CaKeyLine(what, k.public_key());
      if (!line.ok()) return Error(err, line.status().message());
      into->push_back(*std::move(line));
    }
  }
  // The old key and every certificate of earlier logins leave the agent.
  std::vector<std::string> user_cas = StoredUserCaKeys(home);
  user_cas.insert(user_cas.end(), user_ca_keys.begin(), user_ca_keys.end());
  CleanAgent(home, user, user_cas, err);

  const std::string comment = absl::StrCat(user, "@sallyport");
  (void)RemoveFile(key_path);
  if (absl::Status w = key->WriteFile(key_path, comment); !w.ok()) {
    return Error(err, w.message());
  }
  const std::string cert_path = home.certificate(user);
  std::string known_hosts =
      "# Written by `sp login`: hosts with a certificate from the Sallyport "
      "host CA.\n";
  const std::optional<std::string> pattern =
      CertAuthorityPattern((*cas)[0].host);
  for (const std::string& host_ca : host_ca_keys) {
    if (pattern.has_value()) {
      absl::StrAppend(&known_hosts, "@cert-authority ", *pattern, " ", host_ca,
                      "\n");
    } else {
      absl::StrAppend(&known_hosts,
                      "# host CA (no host pattern yet; `sp "
                      "config` adds one): ",
                      host_ca, "\n");
    }
  }
  std::string user_ca_file = "# Written by `sp login`: the user CA keys.\n";
  for (const std::string& k : user_ca_keys) {
    absl::StrAppend(&user_ca_file, k, "\n");
  }
  // Never a `Host *` block: it would send this key and these known_hosts to
  // every host the user reaches, Sallyport or not.
  const std::string ssh_config = absl::StrCat(
      "# Written by `sp login` (user ", user, ", CA ", ca_list, ").\n",
      "# Use it from ~/.ssh/config with (at the top):  ",
      IncludeLine(home.ssh_config()), "\n", "# Key: ", key_path,
      "\n# Certificate: ", cert_path, "\n",
      "# Host blocks for the gateway and its hosts come from `sp config`.\n");
  // Only a login that worked pins the CA's certificate and remembers the
  // CA and user: a failed one (a typo'd --ca, a wrong password) leaves
  // nothing that later sp and spctl commands would trust or go to.
  if (absl::Status w = PinCa(home, *trusted, out); !w.ok()) {
    return Error(err, w.message());
  }
  if (absl::Status w = home.WriteState({ca_list, user}); !w.ok()) {
    return Error(err, w.message());
  }
  for (const auto& [path, data, mode] :
       std::vector<std::tuple<std::string, std::string, int>>{
           {home.public_key(user),
            key->public_key().ToAuthorizedKeysLine(comment) + "\n", 0644},
           {cert_path, response.ssh_certificate() + "\n", 0644},
           {home.tls_key(), std::string(tls_key->private_pem.view()), 0600},
           {home.tls_cert(), response.tls_client_certificate_pem(), 0644},
           {home.user_ca(), user_ca_file, 0644}}) {
    if (absl::Status w = WriteFileAtomic(path, data, mode); !w.ok()) {
      return Error(err, w.message());
    }
  }

  const absl::Time valid_before =
      absl::FromUnixSeconds(static_cast<int64_t>(cert->valid_before));
  const absl::Duration left = valid_before - absl::Now();
  const bool no_logins = cert->principals.size() == 1 &&
                         cert->principals[0] == ca::rbac::kNoLoginPrincipal;
  out << "Logged in as " << user
      << (no_logins
              ? std::string(" (no SSH logins: your roles are for spctl only)")
              : absl::StrCat(" (principals: ",
                             absl::StrJoin(cert->principals, ", "), ")"))
      << "\n"
      << "Certificate valid until " << HumanTime(valid_before) << " ("
      << HumanDuration(left) << ")\n"
      << "Certificate: " << cert_path << "\n";
  if (response.ttl_capped()) {
    err << "sp: note: you asked for " << *options.ttl
        << " but your roles allow at most "
        << HumanDuration(absl::Ceil(left, absl::Minutes(1)))
        << " (their max_ttl): the CA capped the certificate\n";
  }
  if (AgentAvailable()) {
    if (absl::Status a = AgentAdd(key_path, left); a.ok()) {
      out << "Added the key and certificate to ssh-agent for "
          << HumanDuration(left) << "\n";
    } else {
      err << "sp: warning: could not add the key to ssh-agent: " << a.message()
          << "\n";
    }
  }
  // `sp config`: the Host blocks for the gateway and the user's hosts. The
  // login stands when it fails, and the ssh_config and known_hosts of an
  // earlier `sp config` stay as they were: writing the header-only
  // fragment first took every Host block away whenever the CA could not
  // list the hosts just then.
  if (WriteSshConfig(home, /*install=*/false, out, err) != 0) {
    absl::StatusOr<std::string> previous = ReadTextFile(home.ssh_config());
    const size_t blocks = previous.ok() ? ConfigHostNames(*previous).size() : 0;
    if (blocks > 0) {
      err << "sp: warning: " << home.ssh_config()
          << " was not updated: it keeps the " << blocks
          << (blocks == 1 ? " Host block" : " Host blocks")
          << " of an earlier `sp config`";
      if (!state->user.empty() && state->user != user) {
        err << " (for the login of " << state->user << ")";
      }
      err << ", which may be out of date; run `sp config` later\n";
      return 0;
    }
    for (const auto& [path, data] : {std::pair<std::string, std::string_view>{
                                         home.known_hosts(), known_hosts},
                                     std::pair<std::string, std::string_view>{
                                         home.ssh_config(), ssh_config}}) {
      if (absl::Status w = WriteFileAtomic(path, data, 0644); !w.ok()) {
        return Error(err, w.message());
      }
    }
    err << "sp: warning: " << home.ssh_config()
        << " has no Host blocks yet; run `sp config` later\n";
  }
  return 0;
}

int RunStatus(bool json, std::ostream& out, std::ostream& err) {
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) return Error(err, home.status().message());
  absl::StatusOr<SpState> state = home->ReadState();
  if (!state.ok()) return Error(err, state.status().message());
  absl::StatusOr<std::string> line =
      state->user.empty() ? absl::NotFoundError("")
                          : ReadTextFile(home->certificate(state->user));
  if (!line.ok()) {
    if (json) {
      out << "{\"logged_in\": false}\n";
    } else {
      out << "Not logged in (run `sp login`)\n";
    }
    return 1;
  }
  const std::string cert_line(absl::StripTrailingAsciiWhitespace(*line));
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::FromLine(cert_line);
  if (!cert.ok()) {
    return Error(err, absl::StrCat(home->certificate(state->user),
                                   ": unreadable certificate"));
  }
  const absl::Time valid_after =
      absl::FromUnixSeconds(static_cast<int64_t>(cert->valid_after));
  const absl::Time valid_before =
      absl::FromUnixSeconds(static_cast<int64_t>(cert->valid_before));
  const absl::Duration left = valid_before - absl::Now();
  std::string ca_fp;
  absl::StatusOr<std::string> pem = ReadTextFile(home->ca_pem());
  if (pem.ok()) {
    absl::StatusOr<std::string> fp = PemFingerprint(*pem);
    if (fp.ok()) ca_fp = *fp;
  }
  std::vector<std::string> extensions;
  for (const auto& e : cert->extensions) extensions.push_back(e.name);
  // The agent holds it when it lists the same certificate blob.
  bool in_agent = false;
  if (AgentAvailable()) {
    std::vector<std::string> ours = absl::StrSplit(cert_line, ' ');
    absl::StatusOr<std::vector<std::string>> lines = AgentList();
    if (lines.ok() && ours.size() >= 2) {
      for (const std::string& l : *lines) {
        std::vector<std::string> f = absl::StrSplit(l, ' ');
        in_agent = in_agent || (f.size() >= 2 && f[1] == ours[1]);
      }
    }
  }
  const std::string cert_path = home->certificate(state->user);
  // Whether it still stands: a revoked certificate showed as fine (time
  // left, exit 0) while ssh was refused. An expired one is not asked about.
  LoginStanding standing{std::nullopt, "not asked (the certificate expired)"};
  if (left > absl::ZeroDuration()) {
    standing = AskCaAboutLogin(*home, cert->serial, cert->KeyFingerprint());
  }
  if (json) {
    out << "{\"logged_in\": true, \"user\": " << JsonString(state->user)
        << ", \"certificate\": " << JsonString(cert_path)
        << ", \"key_id\": " << JsonString(cert->key_id)
        << ", \"serial\": " << cert->serial
        << ", \"principals\": " << JsonList(cert->principals)
        << ", \"extensions\": " << JsonList(extensions)
        << ", \"valid_after\": " << JsonString(absl::FormatTime(valid_after))
        << ", \"valid_before\": " << JsonString(absl::FormatTime(valid_before))
        << ", \"seconds_left\": "
        << std::max<int64_t>(0, absl::ToInt64Seconds(left))
        << ", \"in_agent\": " << (in_agent ? "true" : "false")
        << ", \"ca\": " << JsonString(state->ca)
        << ", \"ca_fingerprint\": " << JsonString(ca_fp) << ", \"revoked\": "
        << (standing.revoked.has_value()
                ? (*standing.revoked ? "true" : "false")
                : "null")
        << ", \"revocation\": " << JsonString(standing.text) << "}\n";
  } else {
    // The certificate's text is the CA's: escaped, it cannot drive the
    // terminal or forge lines.
    const auto escaped = [](const std::vector<std::string>& items) {
      return absl::StrJoin(items, ", ", [](std::string* out, const auto& i) {
        out->append(base::EscapeControls(i));
      });
    };
    out << "User:        " << base::EscapeControls(state->user) << "\n"
        << "Certificate: " << cert_path << "\n"
        << "Key ID:      " << base::EscapeControls(cert->key_id) << "\n"
        << "Principals:  " << escaped(cert->principals) << "\n"
        << "Extensions:  " << escaped(extensions) << "\n"
        << "Valid from:  " << HumanTime(valid_after) << "\n"
        << "Valid until: " << HumanTime(valid_before) << "\n"
        << "Time left:   " << HumanDuration(left) << "\n"
        << "Revoked:     " << standing.text << "\n"
        << "Serial:      " << cert->serial << "\n"
        << "In agent:    "
        << (AgentAvailable() ? (in_agent ? "yes" : "no") : "no agent") << "\n"
        << "CA:          " << base::EscapeControls(state->ca)
        << (ca_fp.empty() ? "" : absl::StrCat(" (TLS ", ca_fp, ")")) << "\n";
  }
  return left > absl::ZeroDuration() && standing.revoked != true ? 0 : 1;
}

int RunLogout(std::ostream& out, std::ostream& err) {
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) return Error(err, home.status().message());
  absl::StatusOr<SpState> state = home->ReadState();
  if (!state.ok()) return Error(err, state.status().message());
  const std::string key_path = home->key(state->user);
  if (state->user.empty() ||
      (!ReadTextFile(key_path).ok() && !ReadTextFile(home->tls_key()).ok())) {
    out << "Not logged in\n";
    return 0;
  }
  // Every certificate of every earlier login, and their keys.
  int removed = CleanAgent(*home, state->user, StoredUserCaKeys(*home), err);
  for (const std::string& path :
       {key_path, home->public_key(state->user), home->certificate(state->user),
        home->tls_key(), home->tls_cert()}) {
    if (absl::Status st = RemoveFile(path); !st.ok()) {
      return Error(err, st.message());
    }
  }
  // The CA and the user stay remembered for the next `sp login`.
  out << "Logged out " << state->user << ": removed the key and certificate";
  if (removed > 0) out << " (and " << removed << " identities from ssh-agent)";
  out << "\n";
  return 0;
}

}  // namespace sallyport::cli
