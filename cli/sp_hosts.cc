// `sp config`, `sp ls` and `sp ssh` (issue 13): the hosts the CA's
// ListMyHosts names for the logged-in user, as an ssh_config fragment, a
// table, or a stock `ssh` run with that fragment.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <ostream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/address_list.h"
#include "base/rpc_limits.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "ca/rbac/names.h"
#include "cli/ca_client.h"
#include "cli/exit_codes.h"
#include "cli/krl.h"
#include "cli/sp_commands.h"
#include "cli/sp_config.h"
#include "cli/sp_home.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/cert/certificate.h"

namespace sallyport::cli {
namespace {

namespace v1 = ::sallyport::ca::v1;
namespace rbac = ::sallyport::ca::rbac;

int Fail(std::ostream& err, absl::string_view message) {
  err << "sp: " << message << "\n";
  return kExitError;
}

}  // namespace

// The CA's message is escaped: it must not drive the user's terminal or
// forge lines.
std::string RpcError(const grpc::Status& st, const std::vector<HostPort>& cas) {
  switch (st.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return base::EscapeControls(base::UnreachableMessage("the CA", cas, st));
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat("the CA refused (",
                          base::EscapeControls(st.error_message()),
                          "): run `sp login` again");
    default:
      return absl::StrCat("the CA answered: ",
                          base::EscapeControls(st.error_message()));
  }
}

namespace {

// A failed CA call: the message, and exit 7 when the CA cannot be reached
// (as `sp login`; the other failures exit 1).
int FailRpc(std::ostream& err, const grpc::Status& st,
            const std::vector<HostPort>& cas) {
  Fail(err, RpcError(st, cas));
  return st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                 st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
             ? kExitUnreachable
             : kExitError;
}

// `user`'s login certificate: kFailedPrecondition kNotLoggedIn when it
// cannot be read, kInvalidArgument "PATH: unreadable certificate" when it
// does not parse.
absl::StatusOr<ssh::cert::Certificate> ReadLoginCertificate(
    const SpHome& home, const std::string& user) {
  const std::string path = home.certificate(user);
  absl::StatusOr<std::string> line = ReadTextFile(path);
  if (!line.ok()) return absl::FailedPreconditionError(kNotLoggedIn);
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::FromLine(
          std::string(absl::StripTrailingAsciiWhitespace(*line)));
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unreadable certificate"));
  }
  return cert;
}

// Every page of ListMyHosts as one answer, at most base::kMaxListedHosts
// hosts (a warning says when the CA lists more). 0, else the exit code
// after saying why: FailRpc's, or 1 when the pages do not go on
// (CheckNextPage: a next page that does not start after this one, an
// empty page naming a next one, more than base::kMaxListPages pages).
int ListAllMyHosts(const LoggedIn& session, v1::ListMyHostsResponse* out,
                   std::ostream& err) {
  auto stub = v1::CertificateAuthority::NewStub(session.channel);
  v1::ListMyHostsRequest request;
  for (size_t pages = 1;; ++pages) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::ListMyHostsResponse page;
    grpc::Status st = stub->ListMyHosts(&ctx, request, &page);
    if (!st.ok()) return FailRpc(err, st, session.cas);
    *out->mutable_gateways() = std::move(*page.mutable_gateways());
    for (v1::MyHost& h : *page.mutable_hosts()) {
      if (static_cast<size_t>(out->hosts_size()) >= base::kMaxListedHosts) {
        err << "sp: warning: the CA lists more than " << base::kMaxListedHosts
            << " hosts for you; sp takes the first " << base::kMaxListedHosts
            << " (by name) and leaves out the others\n";
        return 0;
      }
      *out->add_hosts() = std::move(h);
    }
    if (page.next_page_token().empty()) return 0;
    if (absl::Status next =
            CheckNextPage(pages, static_cast<size_t>(page.hosts_size()),
                          request.page_token(), page.next_page_token());
        !next.ok()) {
      return Fail(err, absl::StrCat("ListMyHosts: ", next.message()));
    }
    request.set_page_token(page.next_page_token());
  }
}

// $HOME/.ssh/config (the file --install edits).
absl::StatusOr<std::string> HomeSshConfig() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] != '/') {
    return absl::FailedPreconditionError(
        "--install: HOME is not set to an absolute path");
  }
  return absl::StrCat(home, "/.ssh/config");
}

// The home directory of the user running sp in the user database (where
// ssh looks for ~/.ssh/config), or nullopt when there is no entry.
std::optional<std::string> PasswdHome() {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16 << 10);
  if (getpwuid_r(geteuid(), &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr || pw.pw_dir == nullptr) {
    return std::nullopt;
  }
  return std::string(pw.pw_dir);
}

}  // namespace

std::string HomeMismatchWarning(const std::string& home,
                                const std::string& pw_dir) {
  const auto trimmed = [](absl::string_view p) {
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    return p;
  };
  if (trimmed(home) == trimmed(pw_dir)) return "";
  struct stat a, b;
  if (stat(home.c_str(), &a) == 0 && stat(pw_dir.c_str(), &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    return "";  // the same directory by another path (a link)
  }
  return absl::StrCat(
      "sp: warning: HOME is ", base::EscapeControls(home),
      " but your home directory in the user database is ",
      base::EscapeControls(pw_dir), ": ssh reads ",
      base::EscapeControls(pw_dir),
      "/.ssh/config, not the file changed here (add the line there, or run "
      "`sp config --install` with HOME=",
      base::EscapeControls(pw_dir), ")\n");
}

// Every revocation the CA lists for current certificates (ListRevocations
// with current_only, 1 MiB pages, each after the last), at most
// kMaxKrlEntries. *call is the failed call's status
// when a call failed (the returned status then says so too).
absl::Status ListAllRevocations(const LoggedIn& session,
                                std::vector<v1::Revocation>* out,
                                grpc::Status* call) {
  auto stub = v1::CertificateAuthority::NewStub(session.channel);
  v1::ListRevocationsRequest request;
  request.set_limit(10000);
  // Revocations of expired certificates change nothing for a check of
  // current ones (the KRL, `sp status`).
  request.set_current_only(true);
  for (size_t pages = 1;; ++pages) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ListRevocationsResponse page;
    *call = stub->ListRevocations(&ctx, request, &page);
    if (!call->ok()) {
      return absl::UnavailableError(RpcError(*call, session.cas));
    }
    for (v1::Revocation& r : *page.mutable_revocations()) {
      if (out->size() >= kMaxKrlEntries) {
        return absl::ResourceExhaustedError(
            absl::StrCat("the CA lists more than ", kMaxKrlEntries,
                         " revocations (more than one KRL holds)"));
      }
      out->push_back(std::move(r));
    }
    if (!page.more()) return absl::OkStatus();
    const int64_t last =
        out->empty() || page.revocations().empty() ? 0 : out->back().id();
    RETURN_IF_ERROR(CheckNextPage(pages,
                                  static_cast<size_t>(page.revocations_size()),
                                  request.after_id(), last));
    request.set_after_id(last);
  }
}

LoginStanding AskCaAboutLogin(const SpHome& home, uint64_t serial,
                              const std::string& key_fingerprint) {
  absl::StatusOr<LoggedIn> session = OpenLoggedIn(home);
  if (!session.ok()) {
    return {std::nullopt,
            absl::StrCat("unknown (", session.status().message(), ")")};
  }
  std::vector<v1::Revocation> revocations;
  grpc::Status call;
  if (absl::Status st = ListAllRevocations(*session, &revocations, &call);
      !st.ok()) {
    if (call.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        call.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      return {true, absl::StrCat("yes: the CA refuses this login (",
                                 base::SafeText(call.error_message()), ")")};
    }
    return {std::nullopt, absl::StrCat(call.ok() ? "unknown (" : "unknown: ",
                                       st.message(), call.ok() ? ")" : "")};
  }
  for (const v1::Revocation& r : revocations) {
    const bool by_serial = r.target_case() == v1::Revocation::kSerial;
    if (by_serial ? r.serial() != serial
                  : r.key_fingerprint() != key_fingerprint) {
      continue;
    }
    std::string text = absl::StrCat(
        "yes: ", by_serial ? "its serial" : "its key", " was revoked ",
        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                         absl::FromUnixSeconds(r.revoked_at().seconds()),
                         absl::UTCTimeZone()));
    if (!r.revoked_by().empty()) {
      absl::StrAppend(&text, " by ", base::EscapeControls(r.revoked_by()));
    }
    if (!r.reason().empty()) {
      absl::StrAppend(&text, ": ", base::EscapeControls(r.reason()));
    }
    return {true, text};
  }
  return {false, "no (the CA says so)"};
}

int WriteSshConfig(const SpHome& home, bool install, std::ostream& out,
                   std::ostream& err) {
  if (absl::Status st = CheckHomeForSsh(home); !st.ok()) {
    return Fail(err, st.message());
  }
  absl::StatusOr<LoggedIn> session = OpenLoggedIn(home);
  if (!session.ok()) return Fail(err, session.status().message());
  absl::StatusOr<ssh::cert::Certificate> cert =
      ReadLoginCertificate(home, session->user);
  if (!cert.ok()) return Fail(err, cert.status().message());
  v1::ListMyHostsResponse hosts;
  if (int rc = ListAllMyHosts(*session, &hosts, err); rc != 0) return rc;
  v1::CaPublicKeys keys;
  {
    auto stub = v1::CertificateAuthority::NewStub(session->channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    grpc::Status st =
        stub->GetCaPublicKeys(&ctx, v1::GetCaPublicKeysRequest(), &keys);
    if (!st.ok()) return FailRpc(err, st, session->cas);
  }
  SpConfigInput input;
  input.user = session->user;
  input.ca = base::FormatAddressList(session->cas);
  input.key = home.key(session->user);
  input.certificate = home.certificate(session->user);
  input.known_hosts = home.known_hosts();
  input.ssh_config = home.ssh_config();
  input.principals = cert->principals;
  for (const v1::CaPublicKey& k : keys.host_ca()) {
    input.host_ca_keys.push_back(k.public_key());
  }
  // The CA's revocations as a KRL for RevokedHostKeys, written before the
  // fragment that names it (ssh refuses every host when the file is
  // missing). Without it, the fragment has no RevokedHostKeys and a
  // warning says why.
  std::optional<size_t> revoked;  // entries in the KRL written
  {
    size_t entries = 0;
    std::vector<v1::Revocation> revocations;
    grpc::Status call;
    absl::Status listed = ListAllRevocations(*session, &revocations, &call);
    absl::StatusOr<std::string> krl =
        listed.ok() ? HostRevocationsKrl(input.host_ca_keys, revocations,
                                         absl::Now(), &entries)
                    : absl::StatusOr<std::string>(listed);
    absl::Status written =
        krl.ok() ? WriteFileAtomic(home.revoked_host_keys(), *krl, 0644)
                 : krl.status();
    if (written.ok()) {
      input.revoked_host_keys = home.revoked_host_keys();
      revoked = entries;
    } else {
      err << "sp: warning: ssh will not check the CA's revocations of host "
             "keys (no RevokedHostKeys): "
          << written.message() << "\n";
    }
  }
  absl::StatusOr<SpConfigFiles> files = RenderSpConfig(input, hosts);
  if (!files.ok()) return Fail(err, files.status().message());
  for (const std::string& s : files->skipped) {
    err << "sp: warning: left out " << s << "\n";
  }
  if (absl::Status w =
          WriteFileAtomic(home.known_hosts(), files->known_hosts, 0644);
      !w.ok()) {
    return Fail(err, w.message());
  }
  if (absl::Status w =
          WriteFileAtomic(home.ssh_config(), files->ssh_config, 0644);
      !w.ok()) {
    return Fail(err, w.message());
  }
  out << "Wrote " << home.ssh_config() << " (" << files->hosts
      << (files->hosts == 1 ? " host" : " hosts") << " through the gateway)\n";
  if (revoked.has_value()) {
    out << "Wrote " << home.revoked_host_keys() << " (" << *revoked
        << (*revoked == 1 ? " revocation" : " revocations")
        << " of keys and current certificates, which ssh checks for these "
           "hosts)\n";
  }
  const std::string include = IncludeLine(home.ssh_config());
  if (!install) {
    out << "Add this line at the top of ~/.ssh/config (or run `sp config "
           "--install`):\n    "
        << include << "\n";
    return 0;
  }
  absl::StatusOr<std::string> user_config_or = HomeSshConfig();
  if (!user_config_or.ok()) return Fail(err, user_config_or.status().message());
  const std::string& user_config = *user_config_or;
  std::string backup;
  absl::StatusOr<bool> changed = InstallInclude(user_config, include, &backup);
  if (!changed.ok()) return Fail(err, changed.status().message());
  // ssh takes ~ from the user database, not from $HOME: with another
  // HOME (sudo -E, a test shell) the file changed here is not the one ssh
  // reads, and the user would wonder why nothing goes through Sallyport.
  if (std::optional<std::string> pw_dir = PasswdHome()) {
    err << HomeMismatchWarning(std::getenv("HOME"), *pw_dir);
  }
  if (*changed) {
    out << "Added `" << include << "` at the top of " << user_config;
    if (!backup.empty()) {
      out << " (the file as it was before Sallyport changed it: " << backup
          << ")";
    }
    out << "\n";
  } else {
    out << user_config << " already includes it\n";
  }
  return 0;
}

int RunConfig(const ConfigOptions& options, std::ostream& out,
              std::ostream& err) {
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) return Fail(err, home.status().message());
  return WriteSshConfig(*home, options.install, out, err);
}

int RunLs(bool json, std::ostream& out, std::ostream& err) {
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) return Fail(err, home.status().message());
  absl::StatusOr<LoggedIn> session = OpenLoggedIn(*home);
  if (!session.ok()) return Fail(err, session.status().message());
  v1::ListMyHostsResponse hosts;
  if (int rc = ListAllMyHosts(*session, &hosts, err); rc != 0) return rc;
  if (json) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    std::string text;
    if (!google::protobuf::util::MessageToJsonString(hosts, &text, options)
             .ok()) {
      return Fail(err, "cannot print the hosts as JSON");
    }
    out << text << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ADDRESS", "LABELS", "LOGINS"}};
  for (const v1::MyHost& h : hosts.hosts()) {
    // Names from the CA are shown only through EscapeForReason when they
    // are not plain, so a hostile name cannot drive the terminal.
    auto shown = [](const std::string& s) {
      return rbac::ValidateForwardDestination(s, 1).ok() ||
                     rbac::ValidateLogin(s).ok()
                 ? s
                 : rbac::EscapeForReason(s);
    };
    std::map<std::string, std::string> labels(h.labels().begin(),
                                              h.labels().end());
    std::vector<std::string> label_text;
    for (const auto& [k, v] : labels) {
      label_text.push_back(absl::StrCat(shown(k), "=", shown(v)));
    }
    std::vector<std::string> logins;
    for (const std::string& l : h.logins()) logins.push_back(shown(l));
    rows.push_back(std::vector<std::string>{
        shown(h.name()), absl::StrCat(shown(h.address()), ":", h.port()),
        absl::StrJoin(label_text, ","), absl::StrJoin(logins, ",")});
  }
  std::vector<size_t> width(4, 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], base::DisplayWidth(r[i]));
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      absl::StrAppend(&line, r[i]);
      if (i + 1 < r.size()) {
        line.append(width[i] - base::DisplayWidth(r[i]) + 2, ' ');
      }
    }
    out << line << "\n";
  }
  if (hosts.hosts_size() == 0) {
    out << "(no hosts: ask an admin for a role that selects some)\n";
  }
  return 0;
}

int RunSsh(const std::string& target, const std::vector<std::string>& command,
           std::ostream& err) {
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) return Fail(err, home.status().message());
  const size_t at = target.rfind('@');
  const std::string host =
      at == std::string::npos ? target : target.substr(at + 1);
  const std::string login = at == std::string::npos ? "" : target.substr(0, at);
  if (!rbac::ValidateHostName(host).ok() ||
      (at != std::string::npos && !rbac::ValidateLogin(login).ok())) {
    err << "sp: expected [LOGIN@]HOST, got \"" << base::EscapeControls(target)
        << "\"";
    if (target.find('+') != std::string::npos) {
      err << " (sp ssh takes LOGIN@HOST, e.g. root@web01; LOGIN+HOST is the "
             "user name for ssh to the gateway itself)";
    }
    err << "\n";
    return kExitUsage;
  }
  // Logged in, and not expired: else ssh would only say "no such identity"
  // or print the certificate's validity in raw Unix seconds.
  absl::StatusOr<SpState> state = home->ReadState();
  if (!state.ok() || state->user.empty()) return Fail(err, kNotLoggedIn);
  absl::StatusOr<ssh::cert::Certificate> cert =
      ReadLoginCertificate(*home, state->user);
  if (!cert.ok()) return Fail(err, kNotLoggedIn);
  if (static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now())) >=
      cert->valid_before) {
    return Fail(err, kLoginExpired);
  }
  absl::StatusOr<std::string> config = ReadTextFile(home->ssh_config());
  if (!config.ok()) {
    return Fail(err, absl::StrCat(home->ssh_config(),
                                  " is missing: run `sp login` first"));
  }
  bool known = false;
  for (const std::string& name : ConfigHostNames(*config)) {
    known = known || absl::AsciiStrToLower(name) == absl::AsciiStrToLower(host);
  }
  if (!known) {
    return Fail(
        err,
        absl::StrCat(host, " is not among your hosts in ", home->ssh_config(),
                     " (see `sp ls`; `sp config` refreshes the list)"));
  }
  // The config's Host blocks are the inventory names (lowercase), and
  // ssh matches them by case: WEB01 went to DNS instead of the gateway.
  const std::string name = absl::AsciiStrToLower(host);
  std::vector<std::string> args = {
      "ssh", "-F", home->ssh_config(), "--",
      at == std::string::npos ? name : absl::StrCat(login, "@", name)};
  args.insert(args.end(), command.begin(), command.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  err.flush();
  execvp("ssh", argv.data());
  return Fail(err, absl::StrCat("cannot run ssh: ", strerror(errno)));
}

}  // namespace sallyport::cli
