#include "ca/gateway_events_service.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/events.h"
#include "base/status_macros.h"
#include "ca/rbac/names.h"
#include "ca/service_util.h"
#include "storage/records.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;

// An event the CA takes fits the Store's payload limit: escaped as JSON its
// names and texts take at most 6 times their bytes (a control character
// is \u00XX), each field at most 32 bytes more (quotes, separators, a
// number's digits), and the fields the CA adds (gateway, session_id, at,
// user: at most 6 KiB escaped) less than 8 KiB. So the Store never
// refuses it, which the gateway would retry for good, holding back the
// events behind it.
static_assert(6 * GatewayEventsService::kMaxEventBytes +
                  32 * GatewayEventsService::kMaxFields + (8 << 10) <=
              storage::kMaxPayloadBytes);

bool ValidFieldName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  // Set by the CA (or from the event's own fields): a second "user" (or
  // "gateway") in one event's payload named someone else than its actor.
  return name != "gateway" && name != "session_id" && name != "at" &&
         name != "user";
}

absl::Status Check(const pb::GatewayEvent& e) {
  if (!audit::IsGatewayEvent(e.type())) {
    return absl::InvalidArgumentError(
        "an event's type is not a gateway code of the catalogue");
  }
  RETURN_IF_ERROR(
      storage::ValidateText("session_id", e.session_id(), 64, true));
  RETURN_IF_ERROR(storage::ValidateText("user", e.user(), 256, false));
  if (e.fields_size() > GatewayEventsService::kMaxFields) {
    return absl::InvalidArgumentError("too many fields in an event");
  }
  std::set<std::string> names;
  size_t bytes = 0;
  for (const pb::GatewayEventField& f : e.fields()) {
    if (!ValidFieldName(f.name()) || !names.insert(f.name()).second) {
      return absl::InvalidArgumentError(
          "a field name is not [a-z0-9_]{1,32}, is reserved or repeats");
    }
    if (f.value_case() == pb::GatewayEventField::kText) {
      RETURN_IF_ERROR(storage::ValidateText(
          "field", f.text(), GatewayEventsService::kMaxTextBytes, false));
    }
    bytes += f.name().size() + f.text().size();
  }
  if (bytes > GatewayEventsService::kMaxEventBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an event's field names and texts hold ", bytes, " bytes, more than ",
        GatewayEventsService::kMaxEventBytes));
  }
  return absl::OkStatus();
}

// Finding F: an event of a session whose certificate bound it to a user
// and login (`bound`, claim.user set) names that user and, when it has a
// `login` field, that login. Not a session.refused: a login attempt names
// the key id of whichever certificate was tried on the connection (bob's
// refused before alice's accepted), and is no act under the session.
// Every other gateway code follows the login on that connection: the
// gateway issues none before the CA certified the session (its user is
// the certificate the CA checked, its login the one certified).
// PERMISSION_DENIED naming both, with `*claimed_login` set to the event's
// login when it has one.
absl::Status CheckBoundIdentity(const pb::GatewayEvent& e,
                                const storage::SessionClaim& bound,
                                std::optional<std::string>* claimed_login) {
  if (e.type() == audit::kEventSessionRefused) return absl::OkStatus();
  claimed_login->reset();
  for (const pb::GatewayEventField& f : e.fields()) {
    if (f.name() == "login") {
      *claimed_login =
          f.value_case() == pb::GatewayEventField::kText ? f.text() : "";
    }
  }
  if (e.user() == bound.user &&
      (!claimed_login->has_value() || **claimed_login == bound.login)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "session ", rbac::EscapeForReason(bound.session_id),
      " was issued its certificate for user ",
      rbac::EscapeForReason(bound.user), " login ",
      rbac::EscapeForReason(bound.login), ", not for user ",
      rbac::EscapeForReason(e.user()),
      claimed_login->has_value()
          ? absl::StrCat(" login ", rbac::EscapeForReason(**claimed_login))
          : std::string(),
      " (event ", e.type(), ")"));
}

}  // namespace

grpc::Status GatewayEventsService::RecordGatewayEvents(
    grpc::ServerContext* context, const pb::RecordGatewayEventsRequest* request,
    pb::RecordGatewayEventsResponse* response) {
  // Its write: the events' bytes and rows (those resent count again; a
  // gateway resends only after a failure).
  absl::StatusOr<GatewayCall> call = BeginGatewayCall(
      ctx_, *context, "RecordGatewayEvents",
      GatewayWriteCost(request->ByteSizeLong(),
                       static_cast<uint64_t>(request->events_size()),
                       kGatewayCallWriteBytes));
  if (!call.ok()) return ToGrpc(call.status());
  const ClientIdentity& peer = call->peer;
  if (request->events_size() > kMaxEvents) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxEvents, " events per request")));
  }
  for (const pb::GatewayEvent& e : request->events()) {
    absl::Status bad = Check(e);
    if (!bad.ok()) return ToGrpc(bad);
  }
  absl::Status bad_stream = storage::ValidateText(
      "stream", request->stream(), storage::kMaxGatewayStreamBytes, false);
  if (!bad_stream.ok()) return ToGrpc(bad_stream);
  uint64_t previous = 0;
  for (const pb::GatewayEvent& e : request->events()) {
    const bool numbered = e.number() != 0;
    if (numbered != !request->stream().empty() ||
        (numbered &&
         (e.number() <= previous || e.number() > uint64_t{INT64_MAX}))) {
      return ToGrpc(absl::InvalidArgumentError(
          "with a stream, events are numbered from 1 up, ascending; without, "
          "not numbered"));
    }
    previous = e.number();
  }
  // Ownership first, for every session named, before anything is written:
  // the gateway issued the session's certificate owns it, else the first
  // gateway to write anything of it, whether the Store has its recording
  // yet or not (Store::ClaimSessions, one read for the request).
  std::set<std::string> named;
  for (const pb::GatewayEvent& e : request->events()) {
    named.insert(e.session_id());
  }
  const std::vector<std::string> sessions(named.begin(), named.end());
  absl::StatusOr<std::vector<storage::SessionClaim>> claims =
      ctx_.store->ClaimSessions(sessions, peer.name);
  if (!claims.ok() || claims->size() != sessions.size()) {
    return ToGrpc(absl::UnavailableError("the store is unavailable"));
  }
  std::map<std::string, const storage::SessionClaim*> bound;
  for (const storage::SessionClaim& claim : *claims) {
    if (claim.gateway_id != peer.name) {
      const absl::Status refusal = absl::PermissionDeniedError(absl::StrCat(
          "session ", claim.session_id, " belongs to another gateway"));
      (void)ctx_.audit->Record(audit::kEventGatewayEventsRefused, peer.name,
                               {{"gateway", peer.name},
                                {"session_id", claim.session_id},
                                {"owner", claim.gateway_id},
                                {"source", PeerAddress(context->peer())},
                                {"reason", std::string(refusal.message())}});
      return ToGrpc(refusal);
    }
    if (!claim.user.empty()) bound[claim.session_id] = &claim;
  }
  // Finding F: the events of a session bound by its certificate name its
  // user and login. A lie refuses the request as above, before anything
  // is written (the gateway's sender then sends its events one by one:
  // the others are appended, the lie is not), and is itself an event.
  for (const pb::GatewayEvent& e : request->events()) {
    auto it = bound.find(e.session_id());
    if (it == bound.end()) continue;
    std::optional<std::string> claimed_login;
    const absl::Status lie = CheckBoundIdentity(e, *it->second, &claimed_login);
    if (lie.ok()) continue;
    std::vector<audit::AuditField> fields = {{"gateway", peer.name},
                                             {"session_id", e.session_id()},
                                             {"event", e.type()},
                                             {"claimed_user", e.user()}};
    if (claimed_login.has_value()) {
      fields.push_back({"claimed_login", *claimed_login});
    }
    fields.push_back({"bound_user", it->second->user});
    fields.push_back({"bound_login", it->second->login});
    fields.push_back({"source", PeerAddress(context->peer())});
    fields.push_back({"reason", std::string(lie.message())});
    (void)ctx_.audit->Record(audit::kEventGatewayEventsRefused, peer.name,
                             audit::CapAuditFields(std::move(fields)));
    return ToGrpc(lie);
  }
  // One transaction for the request, resent events left out: a store that
  // fails at the k-th event must not leave the first k-1 appended for the
  // gateway to send again (they were appended twice).
  std::vector<AuditLog::NumberedEvent> events;
  events.reserve(request->events_size());
  for (const pb::GatewayEvent& e : request->events()) {
    std::vector<audit::AuditField> fields = {
        {"gateway", peer.name},
        {"session_id", e.session_id()},
        {"at", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", FromTimestamp(e.at()),
                                absl::UTCTimeZone())}};
    if (!e.user().empty()) fields.push_back({"user", e.user()});
    for (const pb::GatewayEventField& f : e.fields()) {
      switch (f.value_case()) {
        case pb::GatewayEventField::kText:
          fields.push_back({f.name(), f.text()});
          break;
        case pb::GatewayEventField::kNumber:
          fields.push_back({f.name(), f.number()});
          break;
        case pb::GatewayEventField::kFlag:
          fields.push_back({f.name(), f.flag()});
          break;
        default:
          fields.push_back({f.name(), ""});
      }
    }
    events.push_back({e.number(), e.type(),
                      e.user().empty() ? peer.name : e.user(),
                      std::move(fields)});
  }
  absl::StatusOr<size_t> appended =
      ctx_.audit->RecordGatewayEvents(peer.name, request->stream(), events);
  if (!appended.ok()) {
    return ToGrpc(absl::UnavailableError("the audit log could not be written"));
  }
  absl::StatusOr<storage::AuditHead> head = ctx_.store->GetAuditHead();
  if (head.ok()) response->set_last_seq(head->seq);
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
