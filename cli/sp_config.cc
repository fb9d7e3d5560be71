#include "cli/sp_config.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "ca/rbac/names.h"
#include "cli/krl.h"
#include "cli/sp_home.h"
#include "ssh/crypto/keys.h"

namespace sallyport::cli {
namespace {

namespace v1 = ::sallyport::ca::v1;
namespace rbac = ::sallyport::ca::rbac;

// The name known_hosts looks up for HOST on PORT ("[HOST]:PORT" unless 22).
std::string KnownHostsName(const std::string& host, uint32_t port) {
  if (port == 22) return host;
  return absl::StrCat("[", host, "]:", port);
}

// The lines every Sallyport Host block shares. Host keys are checked
// against the Sallyport known_hosts, which holds only the host CA: with
// StrictHostKeyChecking yes the gateway and every inventory host must show
// a host certificate from it, never a trust-on-first-use prompt or a key
// taken silently, whatever a later `Host *` of the user's ~/.ssh/config
// says (ssh takes the first value it reads, and the Include is at the top).
std::string IdentityLines(const std::string& key, const std::string& cert,
                          const std::string& known_hosts,
                          const std::string& revoked_host_keys) {
  std::string lines =
      absl::StrCat("  CertificateFile ", cert, "\n  IdentityFile ", key,
                   "\n  IdentitiesOnly yes\n  UserKnownHostsFile ", known_hosts,
                   "\n  StrictHostKeyChecking yes\n");
  if (!revoked_host_keys.empty()) {
    absl::StrAppend(&lines, "  RevokedHostKeys ", revoked_host_keys, "\n");
  }
  return lines;
}

// The file an ssh_config line includes when it is an Include of one file,
// in any form ssh reads it: "Include PATH", "Include \"PATH\"", the
// keyword in any case, '=' or spaces after it. nullopt for another line.
std::optional<std::string> IncludedPath(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  constexpr absl::string_view kKeyword = "include";
  if (line.size() <= kKeyword.size() ||
      !absl::EqualsIgnoreCase(line.substr(0, kKeyword.size()), kKeyword)) {
    return std::nullopt;
  }
  absl::string_view rest = line.substr(kKeyword.size());
  if (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '=') return std::nullopt;
  rest = absl::StripLeadingAsciiWhitespace(rest);
  if (absl::ConsumePrefix(&rest, "=")) {
    rest = absl::StripLeadingAsciiWhitespace(rest);
  }
  if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"') {
    rest = rest.substr(1, rest.size() - 2);
  }
  if (rest.empty() || rest.find_first_of(" \t\"") != absl::string_view::npos) {
    return std::nullopt;  // several files, or not one path
  }
  return std::string(rest);
}

}  // namespace

absl::StatusOr<std::string> QuoteConfigPath(std::string_view path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("not an absolute path: ", rbac::EscapeForReason(path)));
  }
  std::string out = "\"";
  for (char c : path) {
    if (c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("a path in an ssh_config cannot hold a quote or a "
                       "control character: ",
                       rbac::EscapeForReason(path)));
    }
    out += c;
    if (c == '%') out += '%';
  }
  return out + "\"";
}

absl::StatusOr<std::string> CaKeyLine(std::string_view what,
                                      std::string_view key) {
  absl::StatusOr<ssh::crypto::PublicKey> parsed =
      ssh::crypto::PublicKey::FromAuthorizedKeysLine(key);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the CA sent a ", std::string(what), " that is not an SSH public key: ",
        base::EscapeControls(std::string(parsed.status().message()))));
  }
  return parsed->ToAuthorizedKeysLine();
}

absl::StatusOr<std::string> HostRevocationsKrl(
    const std::vector<std::string>& host_ca_keys,
    const std::vector<v1::Revocation>& revocations, absl::Time now,
    size_t* entries) {
  KrlContents krl;
  for (const std::string& sent : host_ca_keys) {
    absl::StatusOr<ssh::crypto::PublicKey> key =
        ssh::crypto::PublicKey::FromAuthorizedKeysLine(sent);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the CA sent a host CA key that is not an SSH public key: ",
          base::EscapeControls(std::string(key.status().message()))));
    }
    krl.ca_keys.push_back(key->Blob());
  }
  if (absl::Status st = AddRevocations(revocations, &krl); !st.ok()) {
    return st;
  }
  // Serials need a CA key to be listed under; with none, the keys revoked
  // still go in.
  if (krl.ca_keys.empty()) krl.serials.clear();
  if (entries != nullptr) {
    *entries =
        std::set<uint64_t>(krl.serials.begin(), krl.serials.end()).size() +
        std::set<std::array<uint8_t, 32>>(krl.key_sha256.begin(),
                                          krl.key_sha256.end())
            .size();
  }
  krl.generated = now;
  krl.comment = "Sallyport revocations (sp config)";
  return BuildKrl(krl);
}

std::string IncludeLine(std::string_view ssh_config_path) {
  // Include takes no %-tokens: the path as it is, quoted (RenderSpConfig
  // refused paths with a quote or a control character).
  return absl::StrCat("Include \"", std::string(ssh_config_path), "\"");
}

absl::StatusOr<SpConfigFiles> RenderSpConfig(
    const SpConfigInput& in, const v1::ListMyHostsResponse& list) {
  absl::StatusOr<std::string> key = QuoteConfigPath(in.key);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> cert = QuoteConfigPath(in.certificate);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> known = QuoteConfigPath(in.known_hosts);
  if (!known.ok()) return known.status();
  std::string revoked;
  if (!in.revoked_host_keys.empty()) {
    absl::StatusOr<std::string> quoted = QuoteConfigPath(in.revoked_host_keys);
    if (!quoted.ok()) return quoted.status();
    revoked = *quoted;
  }
  const std::string identity = IdentityLines(*key, *cert, *known, revoked);

  SpConfigFiles out;
  std::vector<std::string> ca_names;  // for the @cert-authority lines
  std::set<std::string> blocks;       // Host names written (first wins)
  std::string body;

  // The gateway: the jump hop's user must be a certificate principal.
  std::string gateway_user;
  for (const std::string& p : in.principals) {
    if (rbac::ValidateLogin(p).ok()) {
      gateway_user = p;
      break;
    }
  }
  std::string jump;
  for (const v1::GatewayAddress& g : list.gateways()) {
    // The gateway is every Host block's ProxyJump: a bad one (a NUL that
    // cut an address short in inet_pton let "10.0.0.1\0\nHost *\n
    // ProxyCommand ..." through) refuses the whole file.
    if (absl::Status st = rbac::ValidateForwardDestination(g.host(), g.port());
        !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the CA sent a gateway address that is not a host name or IP "
          "address with a port 1..65535: ",
          rbac::EscapeForReason(g.host()), " port ", g.port()));
    }
    const std::string host = absl::AsciiStrToLower(g.host());
    ca_names.push_back(KnownHostsName(host, g.port()));
    if (!blocks.insert(host).second) continue;
    if (jump.empty()) {
      jump = host.find(':') == std::string::npos ? host
                                                 : absl::StrCat("[", host, "]");
    }
    absl::StrAppend(&body, "# The Sallyport gateway.\nHost ", host, "\n");
    if (g.port() != 22) absl::StrAppend(&body, "  Port ", g.port(), "\n");
    if (!gateway_user.empty()) {
      absl::StrAppend(&body, "  User ", gateway_user, "\n");
    }
    absl::StrAppend(&body, identity, "\n");
  }

  if (!jump.empty()) {
    for (const v1::MyHost& h : list.hosts()) {
      if (!rbac::ValidateHostName(h.name()).ok()) {
        out.skipped.push_back(absl::StrCat("host ",
                                           rbac::EscapeForReason(h.name()),
                                           ": not an RFC 1123 host name"));
        continue;
      }
      const std::string name = absl::AsciiStrToLower(h.name());
      if (!blocks.insert(name).second) {
        out.skipped.push_back(absl::StrCat(
            "host ", name, ": the same name as the gateway or another host"));
        continue;
      }
      std::vector<std::string> logins;
      for (const std::string& l : h.logins()) {
        if (rbac::ValidateLogin(l).ok()) logins.push_back(l);
      }
      if (logins.empty()) continue;
      ca_names.push_back(name);
      absl::StrAppend(&body, "Host ", name, "\n  ProxyJump ", jump, "\n");
      if (logins.size() == 1) {
        absl::StrAppend(&body, "  User ", logins[0], "\n");
      } else {
        absl::StrAppend(&body, "  # logins: ", absl::StrJoin(logins, ", "),
                        " (ssh LOGIN@", name, ")\n");
      }
      absl::StrAppend(&body, identity, "\n");
      ++out.hosts;
    }
  } else if (list.hosts_size() > 0) {
    out.skipped.push_back(
        "every inventory host: the CA names no gateway address "
        "(gateway.ssh_addresses in its config)");
  }

  out.ssh_config = absl::StrCat(
      "# Written by `sp config` (user ", in.user, ", CA ",
      base::EscapeControls(in.ca),
      "); `sp login` and `sp config` rewrite it.\n",
      "# Use it from ~/.ssh/config with (at the top):  ",
      IncludeLine(in.ssh_config), "\n", "# Key: ", in.key,
      "\n# Certificate: ", in.certificate, "\n",
      "# Only the gateway and your inventory hosts are named here (no "
      "catch-all block).\n\n",
      body);

  out.known_hosts =
      "# Written by `sp config`: the Sallyport host CA, for the gateway and "
      "the inventory hosts only.\n";
  for (const std::string& sent : in.host_ca_keys) {
    absl::StatusOr<std::string> ca_key = CaKeyLine("host CA key", sent);
    if (!ca_key.ok()) return ca_key.status();
    if (ca_names.empty()) {
      absl::StrAppend(&out.known_hosts, "# host CA (no hosts yet): ", *ca_key,
                      "\n");
      continue;
    }
    for (size_t i = 0; i < ca_names.size(); i += kNamesPerCertAuthorityLine) {
      const size_t end =
          std::min(ca_names.size(), i + kNamesPerCertAuthorityLine);
      absl::StrAppend(
          &out.known_hosts, "@cert-authority ",
          absl::StrJoin(ca_names.begin() + i, ca_names.begin() + end, ","), " ",
          *ca_key, "\n");
    }
  }
  return out;
}

std::vector<std::string> ConfigHostNames(std::string_view ssh_config) {
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(
           absl::string_view(ssh_config.data(), ssh_config.size()), '\n')) {
    if (absl::ConsumePrefix(&line, "Host ")) names.emplace_back(line);
  }
  return names;
}

absl::StatusOr<bool> InstallInclude(const std::string& link_path,
                                    const std::string& include_line,
                                    std::string* backup) {
  if (backup != nullptr) backup->clear();
  // ~/.ssh/config as a link into a dotfiles repository: the file it points
  // to is edited, and the link stays (an atomic rename over the link would
  // replace it with a copy and leave the repository's file behind).
  std::string path = link_path;
  struct stat lst;
  if (lstat(link_path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char* resolved = realpath(link_path.c_str(), nullptr);
    if (resolved == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(link_path,
                       " is a symbolic link to a file that cannot "
                       "be read (",
                       strerror(errno), "); fix it, or add the line yourself"));
    }
    path = resolved;
    free(resolved);
  }
  absl::StatusOr<std::string> old = ReadTextFile(path);
  if (!old.ok() && old.status().code() != absl::StatusCode::kNotFound) {
    return old.status();
  }
  const std::string text = old.ok() ? *old : "";
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  // The line in another form (quoted or not, another case) is the same
  // line: an Include that `sp login`'s fragment suggested, or one the
  // user typed, is already installed.
  const std::optional<std::string> included = IncludedPath(include_line);
  const auto same = [&](absl::string_view l) {
    return absl::StripAsciiWhitespace(l) == include_line ||
           (included.has_value() && IncludedPath(l) == included);
  };
  for (const std::string& l : lines) {
    absl::string_view t = absl::StripAsciiWhitespace(l);
    if (t.empty() || absl::StartsWith(t, "#")) continue;
    if (same(t)) return false;  // already on top
    break;
  }
  std::string updated = include_line + "\n";
  for (const std::string& l : lines) {
    if (same(l)) continue;
    absl::StrAppend(&updated, l, "\n");
  }
  if (old.ok()) {
    struct stat st;
    const int mode = stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0600;
    // The backup is the file as it was before Sallyport's first change: a
    // later install (another SALLYPORT_HOME) does not overwrite it.
    const std::string backup_path = path + ".sallyport-backup";
    struct stat bst;
    if (stat(backup_path.c_str(), &bst) != 0) {
      if (absl::Status b = base::WriteFileAtomic(backup_path, text, mode);
          !b.ok()) {
        return b;
      }
    }
    if (backup != nullptr) *backup = backup_path;
    if (absl::Status w = base::WriteFileAtomic(path, updated, mode); !w.ok()) {
      return w;
    }
    return true;
  }
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", dir, ": ", strerror(errno)));
    }
  }
  if (absl::Status w = base::WriteFileAtomic(path, updated, 0600); !w.ok()) {
    return w;
  }
  return true;
}

}  // namespace sallyport::cli
