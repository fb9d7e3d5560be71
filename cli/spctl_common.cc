#include <google/protobuf/message.h>
#include <openssl/crypto.h>

#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/address_list.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "cli/ca_client.h"
#include "cli/sp_home.h"
#include "cli/spctl.h"

namespace sallyport::cli {

size_t PageEntries(const google::protobuf::Message& page) {
  const google::protobuf::Reflection* reflection = page.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(page, &fields);
  size_t entries = 0;
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->is_repeated()) {
      entries += static_cast<size_t>(reflection->FieldSize(page, f));
    }
  }
  return entries;
}

bool Spctl::Connect() {
  if (tried_) return channel_ != nullptr;
  tried_ = true;
  absl::StatusOr<SpHome> home = SpHome::FromEnvironment();
  if (!home.ok()) {
    Error(home.status().message());
    return false;
  }
  absl::StatusOr<LoggedIn> in = OpenLoggedIn(*home, ca_override_);
  if (!in.ok()) {
    Error(in.status().message());
    return false;
  }
  channel_ = in->channel;
  cas_ = in->cas;
  admin_ = admin::v1::Admin::NewStub(channel_);
  ca_ = ca::v1::CertificateAuthority::NewStub(channel_);
  audit_ = admin::v1::Audit::NewStub(channel_);
  return true;
}

admin::v1::Admin::Stub* Spctl::Admin() {
  return Connect() ? admin_.get() : nullptr;
}

ca::v1::CertificateAuthority::Stub* Spctl::Ca() {
  return Connect() ? ca_.get() : nullptr;
}

admin::v1::Audit::Stub* Spctl::Audit() {
  return Connect() ? audit_.get() : nullptr;
}

std::unique_ptr<grpc::ClientContext> Spctl::Context(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

int Spctl::Fail(const grpc::Status& status, absl::string_view what) {
  // The CA's message is escaped: it must not drive the admin's terminal
  // or forge lines. Its backslashes stay: the CA writes the names users
  // chose escaped already ("env\x20prod" was shown "env\x5cx20prod").
  err_ << "spctl: " << what << ": "
       << base::EscapeControlsInMessage(
              base::UnreachableMessage("the CA", cas_, status))
       << "\n";
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
      // A bad name or value the CA found (its rules are the CA's): a usage
      // error like one spctl finds itself.
      return kExitUsage;
    case grpc::StatusCode::PERMISSION_DENIED:
      err_ << "spctl: permission denied: spctl needs the login of a user "
              "with the admin role (run `sp login` as an admin; `audit` and "
              "`sessions` also accept the auditor role)\n";
      return kExitDenied;
    case grpc::StatusCode::UNAUTHENTICATED:
      err_ << "spctl: the CA did not accept your login certificate (expired "
              "or revoked?): run `sp login` again\n";
      return kExitError;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      err_ << "spctl: is the CA running? (several instances: pass them all, "
              "--ca HOST:PORT,HOST:PORT)\n";
      return kExitError;
    default:
      return kExitError;
  }
}

int Spctl::Error(absl::string_view message, int code) {
  err_ << "spctl: " << message << "\n";
  return code;
}

bool Spctl::Structured(const google::protobuf::Message& message) {
  return PrintStructured(format_, message, out_);
}

void OnRun(CLI::App* sub, Action* action, Action run) {
  sub->callback([action, run = std::move(run)] { *action = run; });
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

namespace {

absl::StatusOr<std::optional<absl::Time>> TimeFlag(absl::string_view flag,
                                                   absl::string_view text,
                                                   absl::Time now) {
  if (text.empty()) return std::optional<absl::Time>();
  const std::string v(text);
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, v, &t, &err) ||
      absl::ParseTime("%Y-%m-%d %H:%M:%S", v, absl::UTCTimeZone(), &t, &err) ||
      absl::ParseTime("%Y-%m-%d", v, absl::UTCTimeZone(), &t, &err)) {
    return t;
  }
  absl::StatusOr<absl::Duration> ago = ParseDurationFlag(v);
  if (ago.ok()) return now - *ago;
  return absl::InvalidArgumentError(absl::StrCat(
      flag,
      ": want a time (2026-11-30T13:00:00Z, \"2026-11-30 13:00:00\" UTC) "
      "or a duration before now (2h, 30m)"));
}

}  // namespace

absl::StatusOr<TimeRange> ParseTimeRange(absl::string_view since,
                                         absl::string_view until,
                                         absl::Time now) {
  absl::StatusOr<std::optional<absl::Time>> from =
      TimeFlag("--since", since, now);
  if (!from.ok()) return from.status();
  absl::StatusOr<std::optional<absl::Time>> to =
      TimeFlag("--until", until, now);
  if (!to.ok()) return to.status();
  if (*from && *to && **to <= **from) {
    // "2h (2026-11-30T11:00:00Z)": the time a duration stands for.
    const auto shown = [](absl::string_view text, absl::Time t) {
      const std::string time =
          absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
      return text == time ? time : absl::StrCat(text, " (", time, ")");
    };
    return absl::InvalidArgumentError(absl::StrCat(
        "--until ", shown(until, **to), " is not later than ", "--since ",
        shown(since, **from), ": no time is in that range"));
  }
  return TimeRange{*from, *to};
}

}  // namespace sallyport::cli
