// The GatewayEvents gRPC service (proto/gateway.proto): a gateway's audit
// events, appended by the CA to the hash-chained log (DESIGN.md §9). The
// caller must present a gateway's mTLS certificate; the CA sets the
// event's "gateway" field from it. A gateway may only write events of its
// own sessions: a session belongs to the gateway the CA issued its session
// certificate to (Store::RecordSessionCertificate), else to the first
// gateway to write an event or a recording of it (Store::ClaimSession),
// and an event naming a session
// another gateway owns refuses the whole request (PERMISSION_DENIED and a
// "gateway.events.refused" event naming the owner). So does an event of a
// session its certificate bound to a user and login (finding F) that
// names another user or login, except a "session.refused" (a refused
// login names whichever certificate was tried): the refusal event names
// the event's code, what it claimed and what the session is bound to. A
// session bound by no certificate (none issued, or its events came first)
// is taken as the gateway names it. A request's events
// are appended in one transaction; those its stream numbered at or below
// what the CA appended before are left out (a request sent again).
#ifndef SALLYPORT_CA_GATEWAY_EVENTS_SERVICE_H_
#define SALLYPORT_CA_GATEWAY_EVENTS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "audit/events.h"
#include "ca/ca_service.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {

class GatewayEventsService final : public gateway::v1::GatewayEvents::Service {
 public:
  // Request limits (the proto's): events per request, fields per event,
  // bytes per text field, bytes of an event's field names and texts
  // (audit/events.h, shared with the gateway).
  static constexpr int kMaxEvents = 256;
  static constexpr int kMaxFields = audit::kMaxGatewayEventFields;
  static constexpr size_t kMaxTextBytes = audit::kMaxGatewayEventTextBytes;
  static constexpr size_t kMaxEventBytes = audit::kMaxGatewayEventBytes;

  explicit GatewayEventsService(CaContext ctx) : ctx_(ctx) {}

  grpc::Status RecordGatewayEvents(
      grpc::ServerContext* context,
      const gateway::v1::RecordGatewayEventsRequest* request,
      gateway::v1::RecordGatewayEventsResponse* response) override;

 private:
  CaContext ctx_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_GATEWAY_EVENTS_SERVICE_H_
