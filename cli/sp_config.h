// `sp config` (issue 13): the ssh_config fragment and known_hosts that let
// stock `ssh web01` go through the Sallyport gateway, written from the CA's
// ListMyHosts answer, and `--install`, which adds the one Include line to
// ~/.ssh/config.
//
// The fragment never has a `Host *` block and the known_hosts never an
// `@cert-authority *` line: only the gateway's names and the inventory
// names get the Sallyport identity, ProxyJump and host CA, so the user's
// other SSH use is untouched. Every name from the CA is checked (RFC 1123
// host names, IP literals for the gateway, plain logins; ca/rbac/names)
// before it is written, so a hostile name cannot add ssh_config
// directives or patterns.
#ifndef SALLYPORT_CLI_SP_CONFIG_H_
#define SALLYPORT_CLI_SP_CONFIG_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/ca.pb.h"

namespace sallyport::cli {

struct SpConfigInput {
  std::string user;         // the Sallyport user (comments only)
  std::string ca;           // the CA as remembered (comments only)
  std::string key;          // private key path
  std::string certificate;  // -cert.pub path
  std::string known_hosts;  // the Sallyport known_hosts path
  // The KRL of the CA's revocations (HostRevocationsKrl), written before
  // the fragment: every Host block gets `RevokedHostKeys` with it, so ssh
  // refuses a gateway or host key (or host certificate) the CA revoked.
  // Empty: no such line (ssh then fails on no file).
  std::string revoked_host_keys;
  std::string ssh_config;  // where the fragment goes (for the Include hint)
  // The login certificate's principals: the first is the gateway hop's
  // user name (a jump-only connection's user must be a principal).
  std::vector<std::string> principals;
  // The host CA public keys ("ssh-ed25519 AAAA..."), as the CA sent them
  // (RenderSpConfig writes each through CaKeyLine).
  std::vector<std::string> host_ca_keys;
};

struct SpConfigFiles {
  std::string ssh_config;
  std::string known_hosts;
  // Names from the CA that were not written, each with the reason (safe
  // to print).
  std::vector<std::string> skipped;
  size_t hosts = 0;  // inventory Host blocks written
};

// At most this many names on one @cert-authority line.
inline constexpr size_t kNamesPerCertAuthorityLine = 32;

// The two files. kInvalidArgument when a path cannot be written into an
// ssh_config (a quote or a control character in it), a gateway address
// is not a host name or IP literal with a port 1..65535
// (rbac::ValidateForwardDestination), or a host CA key is not a public
// key (CaKeyLine). An inventory host whose name is not a host name is
// left out (SpConfigFiles::skipped).
absl::StatusOr<SpConfigFiles> RenderSpConfig(
    const SpConfigInput& input,
    const ::sallyport::ca::v1::ListMyHostsResponse& hosts);

// The KRL (OpenSSH PROTOCOL.krl) `sp config` writes for RevokedHostKeys:
// every serial of `revocations` under each host CA key, and every revoked
// key by its SHA-256 (a host key revoked by key also refuses every
// certificate on it: a revoked gateway's own host certificate and the
// target certificates it shows for recorded jumps). The CA's serials are
// unique across its keys and purposes, so a user certificate's serial in
// the list names no host certificate. kInvalidArgument for a host CA key
// that is not a public key, a revocation whose fingerprint is not
// "SHA256:" and 43 base64 characters, or more than kMaxKrlEntries entries.
// With no host CA key the serials have nothing to be listed under and are
// left out. `entries`, when set, gets what the KRL revokes: its distinct
// serials and keys (what `sp config` reports, not what the CA listed).
absl::StatusOr<std::string> HostRevocationsKrl(
    const std::vector<std::string>& host_ca_keys,
    const std::vector<::sallyport::ca::v1::Revocation>& revocations,
    absl::Time now, size_t* entries = nullptr);

// A path as one ssh_config argument: in double quotes, '%' doubled (ssh
// expands %-tokens in these paths). kInvalidArgument for '"', a control
// character or a non-absolute path.
absl::StatusOr<std::string> QuoteConfigPath(std::string_view path);

// A CA public key from the CA's answer as sp writes it into a file
// ("type base64", one line): parsed (ssh::crypto::PublicKey) and written
// again, so a newline, a second key or a comment in it (a hostile or
// broken CA) adds nothing to the file. kInvalidArgument "the CA sent a
// WHAT that is not an SSH public key: WHY" otherwise.
absl::StatusOr<std::string> CaKeyLine(std::string_view what,
                                      std::string_view key);

// `Include "PATH"`: the line `sp config` prints and --install adds, and
// the one `sp login`'s fragment suggests.
std::string IncludeLine(std::string_view ssh_config_path);

// Adds `include_line` at the top of the ssh config at `path` (created 0600
// with its directory 0700 when missing; a symbolic link is followed and
// the file it points to edited). Idempotent: nothing changes when the
// first non-blank, non-comment line already is `include_line`, or an
// Include of the same file in another form ssh reads (the path quoted or
// not, the keyword in another case, '=' after it). Otherwise
// the old file is copied to FILE.sallyport-backup first, unless that
// backup exists (it keeps the file as it was before Sallyport's first
// change), the line goes on top and other copies of it further down are
// removed (an Include after a Host line would apply only to that Host).
// Returns true when the file changed; *backup is the backup's path when
// there is one (none for a file that did not exist).
absl::StatusOr<bool> InstallInclude(const std::string& path,
                                    const std::string& include_line,
                                    std::string* backup = nullptr);

// The Host names of a fragment RenderSpConfig wrote, in order.
std::vector<std::string> ConfigHostNames(std::string_view ssh_config);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SP_CONFIG_H_
