// Reading the CA's audit log page by page for `spctl audit ls|export|verify`
// (cli/spctl_audit.cc). For spctl_audit.cc and its tests.
#ifndef SALLYPORT_CLI_SPCTL_AUDIT_H_
#define SALLYPORT_CLI_SPCTL_AUDIT_H_

#include <functional>
#include <optional>
#include <string>

#include "cli/spctl.h"
#include "proto/admin.pb.h"

namespace sallyport::cli {

// One ListAuditEvents call: nullopt with the page in *response, else the
// exit code after printing why.
using ReadAuditPage = std::function<std::optional<int>(
    const admin::v1::ListAuditEventsRequest& request,
    admin::v1::ListAuditEventsResponse* response)>;

// Reads the events in `range` with `read_page` for each page, from the
// first to the last; `each` sees every event in order, and the last page's
// head (head_seq, head_hash) is left in *head. One page is held at a time.
// `purpose` ("ls", "export", "verify") goes to the CA for its audit event.
// nullopt once read, else the exit code after printing why: a CA that
// would keep the reading going ends it with "spctl: audit PURPOSE: WHY"
// (kExitError), for a page whose next_after_seq is not after the one asked
// for, or a base::kMaxAuditLogPages-th page that names another. A page may
// be empty and name a next one: with a time range, the CA looks at 1000
// events a page and sends those in the range.
std::optional<int> WalkAuditPages(
    Spctl& ctl, const TimeRange& range, const std::string& purpose,
    const ReadAuditPage& read_page,
    const std::function<void(const admin::v1::AuditEvent&)>& each,
    admin::v1::ListAuditEventsResponse* head);

// One event of `spctl audit ls|export --yaml`: an item of a YAML list with
// the keys and values of its JSON line. Text YAML cannot carry exactly is
// written as U+FFFD after a comment line that says so.
std::string AuditEventYaml(const admin::v1::AuditEvent& event);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SPCTL_AUDIT_H_
