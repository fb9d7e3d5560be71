#include "ca/gateway_events_service.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/events.h"
#include "base/status_macros.h"
#include "ca/service_util.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;

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
  for (const pb::GatewayEventField& f : e.fields()) {
    if (!ValidFieldName(f.name()) || !names.insert(f.name()).second) {
      return absl::InvalidArgumentError(
          "a field name is not [a-z0-9_]{1,32}, is reserved or repeats");
    }
    if (f.value_case() == pb::GatewayEventField::kText) {
      RETURN_IF_ERROR(storage::ValidateText(
          "field", f.text(), GatewayEventsService::kMaxTextBytes, false));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status GatewayEventsService::RecordGatewayEvents(
    grpc::ServerContext* context, const pb::RecordGatewayEventsRequest* request,
    pb::RecordGatewayEventsResponse* response) {
  // Its write: the events' bytes and rows (those resent count again; a
  // gateway resends only after a failure).
  absl::StatusOr<GatewayCall> call = BeginGatewayCall(
      ctx_, *context, "RecordGatewayEvents",
      kGatewayCallWriteBytes + request->ByteSizeLong() +
          kGatewayWriteRowBytes *
              static_cast<uint64_t>(request->events_size()));
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
  // yet or not (Store::ClaimSession).
  std::set<std::string> sessions;
  for (const pb::GatewayEvent& e : request->events()) {
    sessions.insert(e.session_id());
  }
  for (const std::string& id : sessions) {
    absl::StatusOr<std::string> owner = ctx_.store->ClaimSession(id, peer.name);
    if (!owner.ok()) {
      return ToGrpc(absl::UnavailableError("the store is unavailable"));
    }
    if (*owner != peer.name) {
      const absl::Status refusal = absl::PermissionDeniedError(
          absl::StrCat("session ", id, " belongs to another gateway"));
      (void)ctx_.audit->Record(audit::kEventGatewayEventsRefused, peer.name,
                               {{"gateway", peer.name},
                                {"session_id", id},
                                {"owner", *owner},
                                {"source", PeerAddress(context->peer())},
                                {"reason", std::string(refusal.message())}});
      return ToGrpc(refusal);
    }
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
