// spctl: the admin CLI (DESIGN.md §1-§2, issue 15). Every verb calls the
// CA's Admin service over mutual TLS with the login of `sp login` (same
// $SALLYPORT_HOME, same CA pin); see cli/ca_client.h.
//
// Each spctl_*.cc file adds one group of verbs to the CLI11 app. A parsed
// verb leaves its work in an Action that main runs after parsing.
#ifndef SALLYPORT_CLI_SPCTL_H_
#define SALLYPORT_CLI_SPCTL_H_

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/ca_client.h"
#include "cli/cli_app.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"

namespace sallyport::cli {

class Spctl {
 public:
  Spctl(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  OutputFormat format() const { return format_; }
  void set_format(OutputFormat f) { format_ = f; }
  bool table() const { return format_ == OutputFormat::kTable; }
  // `--ca LIST`: CA addresses instead of the ones `sp login` remembered.
  void set_ca_override(std::string ca) { ca_override_ = std::move(ca); }

  // The stubs, connected on first use; nullptr after printing why (e.g.
  // "not logged in: run `sp login` first").
  admin::v1::Admin::Stub* Admin();
  ca::v1::CertificateAuthority::Stub* Ca();
  // The audit API (auditor or admin role).
  admin::v1::Audit::Stub* Audit();
  // A call's context: its deadline `timeout` from now.
  static constexpr absl::Duration kCallTimeout = absl::Seconds(30);
  static std::unique_ptr<grpc::ClientContext> Context(
      absl::Duration timeout = kCallTimeout);

  // Prints "spctl: <what>: <why>" with advice for the code and returns the
  // exit code: INVALID_ARGUMENT 2 (usage), NOT_FOUND 3, PERMISSION_DENIED 4,
  // everything else 1.
  int Fail(const grpc::Status& status, absl::string_view what);
  // Prints "spctl: <message>" and returns `code`.
  int Error(absl::string_view message, int code = kExitError);
  // Prints `message` as JSON/YAML for --output json|yaml; false for tables.
  bool Structured(const google::protobuf::Message& message);

 private:
  bool Connect();

  std::ostream& out_;
  std::ostream& err_;
  OutputFormat format_ = OutputFormat::kTable;
  bool tried_ = false;
  std::string ca_override_;
  std::vector<HostPort> cas_;  // as connected (for messages)
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<admin::v1::Admin::Stub> admin_;
  std::unique_ptr<ca::v1::CertificateAuthority::Stub> ca_;
  std::unique_ptr<admin::v1::Audit::Stub> audit_;
};

using Action = std::function<int()>;

// Registers `sub`'s action: when CLI11 parses `sub`, *action becomes `run`.
void OnRun(CLI::App* sub, Action* action, Action run);

void AddUserCommands(CLI::App& app, Spctl& ctl, Action* action);
void AddRoleCommands(CLI::App& app, Spctl& ctl, Action* action);
void AddHostCommands(CLI::App& app, Spctl& ctl, Action* action);
void AddTokenCommands(CLI::App& app, Spctl& ctl, Action* action);
void AddCertCommands(CLI::App& app, Spctl& ctl, Action* action);
void AddAuditCommands(CLI::App& app, Spctl& ctl, Action* action);
void AddSessionCommands(CLI::App& app, Spctl& ctl, Action* action);

// Calls `method` on `stub` and returns its status, saying nothing: for a
// caller that answers some codes itself (Spctl::Fail for the others).
// nullopt when `stub` is nullptr (not connected, already explained).
template <typename Stub, typename Req, typename Resp>
std::optional<grpc::Status> TryCall(
    Stub* stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
    const Req& request, Resp* response,
    absl::Duration timeout = Spctl::kCallTimeout) {
  if (stub == nullptr) return std::nullopt;
  std::unique_ptr<grpc::ClientContext> ctx = Spctl::Context(timeout);
  return (stub->*method)(ctx.get(), request, response);
}

// Calls `method` on `stub` (nullptr: not connected, already explained).
// nullopt on success, else the exit code after Spctl::Fail.
template <typename Stub, typename Req, typename Resp>
std::optional<int> Call(Spctl& ctl, Stub* stub,
                        grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                     const Req&, Resp*),
                        const Req& request, Resp* response,
                        absl::string_view what,
                        absl::Duration timeout = Spctl::kCallTimeout) {
  std::optional<grpc::Status> st =
      TryCall(stub, method, request, response, timeout);
  if (!st.has_value()) return kExitError;
  if (!st->ok()) return ctl.Fail(*st, what);
  return std::nullopt;
}

// The entries of a page of a listing: those of its repeated fields.
size_t PageEntries(const google::protobuf::Message& page);

// Calls a listing the CA answers in pages (page_token, next_page_token;
// base/rpc_limits.h) from its first page to its last, handing each page to
// `take`. nullopt on success, else the exit code after Spctl::Fail, or
// after "spctl: WHAT: WHY" (exit 1) when the CA's next page would not
// start after the one it follows, a page is empty but names a next one,
// or the listing runs past base::kMaxListPages pages (CheckNextPage).
template <typename Stub, typename Req, typename Resp, typename Take>
std::optional<int> CallEveryPage(
    Spctl& ctl, Stub* stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
    Req request, absl::string_view what, const Take& take) {
  for (size_t pages = 1;; ++pages) {
    Resp page;
    if (auto rc = Call(ctl, stub, method, request, &page, what)) return rc;
    take(page);
    if (page.next_page_token().empty()) return std::nullopt;
    if (absl::Status next =
            CheckNextPage(pages, PageEntries(page), request.page_token(),
                          page.next_page_token());
        !next.ok()) {
      return ctl.Error(absl::StrCat(what, ": ", next.message()));
    }
    request.set_page_token(page.next_page_token());
  }
}

// How many times ChangeRecord reads and writes a record that other admins
// keep changing before it gives up.
inline constexpr int kUpdateAttempts = 5;

// Reads a record (User, Role, Host) with `read` (an exit code: kExitOk, or
// what it printed), applies `change` and writes it with `update` on the
// condition that it is still the version read (its updated_at, which the
// read filled and the write sends back): when another admin changed it in
// between (ABORTED), reads it again and applies `change` to that, up to
// kUpdateAttempts times, so neither change undoes the other. kExitOk with
// the record as written in *out, else the exit code after Spctl::Fail
// naming `what`.
template <typename Record, typename Read, typename Change>
int ChangeRecord(Spctl& ctl, absl::string_view what, const Read& read,
                 const Change& change,
                 grpc::Status (admin::v1::Admin::Stub::*update)(
                     grpc::ClientContext*, const Record&, Record*),
                 Record* out) {
  for (int attempt = 1;; ++attempt) {
    Record record;
    if (int rc = read(&record); rc != kExitOk) return rc;
    change(&record);
    std::optional<grpc::Status> st = TryCall(ctl.Admin(), update, record, out);
    if (!st.has_value()) return kExitError;
    if (st->ok()) return kExitOk;
    if (st->error_code() != grpc::StatusCode::ABORTED ||
        attempt == kUpdateAttempts) {
      return ctl.Fail(*st, what);
    }
  }
}

// Helpers shared by the verb files.
std::string FormatTime(const google::protobuf::Timestamp& t);

// --since and --until of `audit ls|export` and `sessions ls`: from `since`
// and before `until`; nullopt: no bound.
struct TimeRange {
  std::optional<absl::Time> since, until;
};
// Reads --since and --until, each empty (no bound), a time (RFC 3339,
// "2026-11-30 13:00:00" or "2026-11-30" in UTC) or a duration before `now`
// ("2h", "30m"; both are read against the same `now`). kInvalidArgument
// naming the flag for anything else, and for a range nothing can be in:
// --until at or before --since (`--since 2h --until 3h`).
absl::StatusOr<TimeRange> ParseTimeRange(absl::string_view since,
                                         absl::string_view until,
                                         absl::Time now);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SPCTL_H_
