// Whether an exec channel's command line is scp's remote end (a file
// transfer), and which way it copies. Used by the gateway (the spool tap
// keeps such a channel as counts only; the filetransfer.start audit event
// names its direction) and by `spctl sessions show`.
#ifndef SALLYPORT_AUDIT_SCP_COMMAND_H_
#define SALLYPORT_AUDIT_SCP_COMMAND_H_

#include <string_view>

namespace sallyport::audit {

// scp's remote end as OpenSSH's scp runs it over exec: "scp", option
// clusters of letters ("-v", "-r", "-p", "-d", "-t" or "-f"; "-rt"), an
// optional "--", then at least one path. "upload" for -t (the host
// receives), "download" for -f (the host sends), "" for anything else.
// Strict on purpose: the gateway keeps only byte counts and a SHA-256 of
// such a channel (gateway/spool_tap.h), so a command line that could run
// anything besides scp — a shell metacharacter anywhere (; & | $ ` ( ) <
// > \ ' " { } or a line break), both or neither of -t/-f — is not a file
// transfer and is recorded like any exec ("scp -f x; cat /etc/shadow"
// must not hide the shadow file).
std::string_view ScpTransferDirection(std::string_view command);

// Whether ScpTransferDirection(command) is not empty: `spctl sessions
// show` says such a channel (without a pty) was kept as counts only.
bool IsScpTransferCommand(std::string_view command);

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_SCP_COMMAND_H_
