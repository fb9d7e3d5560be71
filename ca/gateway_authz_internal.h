// What GatewayService's two decisions share (gateway_authz.cc:
// AuthorizeChannel and the user certificate's check;
// gateway_session_cert.cc: IssueSessionCertificate). Internal to //ca.
#ifndef SALLYPORT_CA_GATEWAY_AUTHZ_INTERNAL_H_
#define SALLYPORT_CA_GATEWAY_AUTHZ_INTERNAL_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ca/gateway_service.h"
#include "ca/in_flight_limiter.h"
#include "ca/presented_cert.h"
#include "ca/rbac/rbac.h"
#include "proto/gateway.pb.h"
#include "storage/records.h"

namespace sallyport::ca {

// recpol (issue 14): the recording policy a decision carries to the gateway
// (AuthorizeChannelResponse and IssueSessionCertificateResponse).
template <typename Response>
void SetRecordingPolicy(const rbac::Decision& d, Response& response) {
  response.set_record_mode(
      std::string(storage::RecordFailureModeName(d.record_mode)));
  if (d.record_input.has_value()) response.set_record_input(*d.record_input);
}

// A decision's answer, as AuthorizeChannel gives it and as
// IssueSessionCertificate carries it for the session kinds.
void DecisionToProto(const rbac::Decision& d,
                     gateway::v1::AuthorizeChannelResponse& response);

void HostToProto(const storage::Host& host, gateway::v1::HostRecord* out);

// A call's reactor that holds its place (EnterGatewayCall) until its
// answer, after the record committed: Answer gives the place back, then
// finishes. Not in OnDone, which gRPC runs after the answer has gone out:
// a gateway that asks again as soon as it has its answer (its calls at its
// limit, kMaxGatewayCallsPerGateway) would find the place still taken and
// be refused as an overload.
class GatewayService::PlaceHoldingReactor final
    : public grpc::ServerUnaryReactor {
 public:
  explicit PlaceHoldingReactor(std::optional<InFlightLimiter::Ticket> place)
      : place_(std::move(place)) {}
  void Answer(grpc::Status status) {
    place_.reset();
    Finish(std::move(status));
  }
  void OnDone() override { delete this; }

 private:
  std::optional<InFlightLimiter::Ticket> place_;
};

struct GatewayService::Checked {
  PresentedUserCertificate presented;
  std::optional<storage::User> user;  // set when the user exists
  std::vector<storage::Role> roles;
  std::optional<storage::Host> host;  // set when the host is known
};

struct GatewayService::PendingCheck {
  // Not started (the caller is no gateway): refused if ever finished.
  absl::StatusOr<PresentedUserCertificate> presented =
      absl::PermissionDeniedError("the user certificate was not checked");
  int revocation_at = -1;  // its revocation in the reads, when asked
  bool user = false;       // the user (and roles) were asked for
  bool host = false;       // the host was asked for
  bool issued = false;     // the certificate's issue record was asked for
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_GATEWAY_AUTHZ_INTERNAL_H_
