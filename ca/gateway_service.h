// The Gateway gRPC service (proto/gateway.proto): gateway enrolment with a
// one-time join token, renewal of the gateway's mTLS identity, and what a
// gateway asks the CA for each connection (RBAC decisions, session
// certificates, host certificates for ProxyJump targets). Every RPC but
// EnrollGateway requires a gateway identity (OU "gateway").
#ifndef SALLYPORT_CA_GATEWAY_SERVICE_H_
#define SALLYPORT_CA_GATEWAY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ca/ca_service.h"
#include "ca/presented_cert.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {

// The user of a gateway identity's certificate record: "gateway:NAME"
// (never a user name, which has no ':'); `spctl certs ls --user` finds it.
std::string GatewayCertificateUser(std::string_view gateway);

// What a refusal tells gateway `gateway` whose enrolment no longer holds:
// "enrol gateway NAME again with a token for its name (spctl tokens create
// --kind gateway --gateway-name NAME)".
std::string EnrolGatewayAgain(std::string_view gateway);

// Whether certificate record `a` was recorded after `b`: by issued_at,
// then by serial.
bool RecordedAfter(const storage::IssuedCertificate& a,
                   const storage::IssuedCertificate& b);

// Whether a gateway join token created for `token_gateway` (empty: for no
// name in particular) may enrol gateway `name`. kPermissionDenied, naming
// the `spctl tokens create --gateway-name` to use, when the token was
// created for another name, or when `name` already has a gateway identity
// on record (an issued certificate of purpose "gateway" for
// GatewayCertificateUser(name), expired or revoked included) and the
// token was not created for exactly that name: re-enrolling a gateway
// takes its sessions, which is an administrator's decision. kUnavailable
// (or the store's error) when the store cannot be asked.
absl::Status CheckGatewayEnrolmentName(storage::Store& store,
                                       std::string_view name,
                                       std::string_view token_gateway);

// Whether a gateway join token may put `principals` (the gateway's name
// first, then its extra principals) on the gateway's host certificate,
// which users' @cert-authority lines and the gateway's upstream check
// accept for each of its names. A token made for no gateway
// (`token_gateway` empty or another name): none may be an inventory
// host's name or address, nor a name on a valid, unrevoked host
// certificate (another gateway's, or a host's: FindNameInUse). A token an
// administrator made for this gateway's name: none may be an inventory
// host's name, unless it is on the gateway's own valid host certificate
// (key id = its name: it keeps its names when enrolled again); sharing a
// public name with other gateways (HA) or an address with hosts is the
// administrator's decision. Names compare ignoring case.
// kPermissionDenied naming the clash; store errors pass through.
absl::Status CheckGatewayNamesAreFree(
    storage::Store& store, const std::vector<std::string>& principals,
    std::string_view token_gateway, absl::Time now);

// IssueSessionCertificate uses gRPC's callback API: its handler does not
// wait for the certificate's record to commit (the store's commit thread
// finishes the call), so no thread is parked per call in flight.
class GatewayService final
    : public gateway::v1::Gateway::WithCallbackMethod_IssueSessionCertificate<
          gateway::v1::Gateway::Service> {
 public:
  struct Settings {
    // source-address of session certificates (config
    // gateway.egress_addresses); empty: no session certificates.
    std::vector<std::string> egress_addresses;
    // Validity of a gateway's client certificate.
    absl::Duration identity_ttl = absl::Hours(24 * 7);
    // Validity of a gateway's own host certificate (enrolment).
    absl::Duration host_certificate_ttl = absl::Hours(720);
    // Validity of host certificates for ProxyJump targets.
    absl::Duration target_certificate_ttl = absl::Hours(1);
    // Backdate of client certificates, for clock skew.
    absl::Duration backdate = absl::Minutes(1);
  };
  // The most names a gateway enrols with besides its own.
  static constexpr int kMaxExtraPrincipals = 16;

  GatewayService(CaContext ctx, Settings settings)
      : ctx_(ctx), settings_(std::move(settings)) {}

  // For tests: user certificates remembered as verified.
  size_t RememberedUserCertificatesForTest() {
    return verified_user_certificates_.size();
  }

  grpc::Status EnrollGateway(
      grpc::ServerContext* context,
      const gateway::v1::EnrollGatewayRequest* request,
      gateway::v1::EnrollGatewayResponse* response) override;
  grpc::Status RenewGatewayIdentity(
      grpc::ServerContext* context,
      const gateway::v1::RenewGatewayIdentityRequest* request,
      gateway::v1::RenewGatewayIdentityResponse* response) override;
  // AuthorizeChannel and IssueSessionCertificate live in gateway_authz.cc.
  grpc::Status AuthorizeChannel(
      grpc::ServerContext* context,
      const gateway::v1::AuthorizeChannelRequest* request,
      gateway::v1::AuthorizeChannelResponse* response) override;
  grpc::ServerUnaryReactor* IssueSessionCertificate(
      grpc::CallbackServerContext* context,
      const gateway::v1::IssueSessionCertificateRequest* request,
      gateway::v1::IssueSessionCertificateResponse* response) override;
  grpc::Status IssueHostCertificateForTarget(
      grpc::ServerContext* context,
      const gateway::v1::IssueHostCertificateForTargetRequest* request,
      gateway::v1::IssueHostCertificateForTargetResponse* response) override;
  // gwrest: in gateway_enroll_renew.cc.
  grpc::Status RenewGatewayHostCertificate(
      grpc::ServerContext* context,
      const gateway::v1::RenewGatewayHostCertificateRequest* request,
      gateway::v1::RenewGatewayHostCertificateResponse* response) override;

 private:
  // IssueSessionCertificate's reactor, which holds the call's place until
  // it answers (gateway_authz.cc).
  class PlaceHoldingReactor;
  // IssueSessionCertificate up to the signature; starts the record, whose
  // end answers `reactor`. A refusal is returned (the caller finishes).
  // `presented`: the caller's client certificate, verified
  // (PeerAuthenticator::VerifyPresented) once for its place and its
  // authentication; the user certificate is checked (StartCheck) only
  // when it is a gateway's.
  grpc::Status StartSessionCertificate(
      const grpc::ServerContextBase& context,
      const absl::StatusOr<ClientIdentity>& presented,
      const gateway::v1::IssueSessionCertificateRequest* request,
      gateway::v1::IssueSessionCertificateResponse* response,
      PlaceHoldingReactor* reactor);
  // The user certificate checked again and the user's permissions for
  // (login, host), as both RPCs need them, in two steps around the
  // caller's authentication so that every store read of the call is one
  // (Store::ReadForIssuance: one round trip on PostgreSQL): StartCheck
  // verifies the certificate (no store read) and adds the reads it needs
  // to `reads`; FinishCheck decides on the snapshot of those reads.
  struct Checked;
  struct PendingCheck;
  // StartCheck verifies a signature before the caller's authentication
  // (its store read), so it runs only for a caller that presents a valid
  // gateway client certificate (EnterGatewayCall's place, no store read):
  // a stranger cannot make the CA verify signatures.
  PendingCheck StartCheck(std::string_view user_certificate,
                          std::string_view login, std::string_view host,
                          storage::IssuanceReads& reads);
  absl::StatusOr<Checked> FinishCheck(PendingCheck pending,
                                      const storage::IssuanceSnapshot& read);

  // A client certificate (PEM) for gateway `name` and
  // `tls_public_key_der` with a serial from the store, and its record
  // (purpose kGateway, user GatewayCertificateUser(name)), which the
  // caller stores with its audit event (AuditLog::RecordCertificate).
  struct Identity {
    std::string pem;
    storage::IssuedCertificate record;
  };
  absl::StatusOr<Identity> IssueIdentity(std::string_view name,
                                         std::string_view tls_public_key_der);
  // A gateway identity of `peer`'s name recorded after `peer`'s own (a
  // renewal of it, or a later enrolment), the newest; nullopt when there
  // is none. Such an identity renews no more (RenewGatewayIdentity): each
  // renews once, so a copy of one cannot mint identities of its own while
  // the gateway renews too. Not revoked at once: the gateway's calls on
  // the old channel run until it switches to the new certificate (and
  // when the answer is lost, the old one keeps it working until it
  // expires).
  absl::StatusOr<std::optional<storage::IssuedCertificate>> NewerIdentity(
      const ClientIdentity& peer);
  // Gateway `name`'s newest host certificate on record (its enrolment's or
  // a renewal's, user GatewayCertificateUser(name); a record from before
  // gateway host certificates had that user is found by its key id and
  // first principal, read once per name: LegacyHostCertificate); nullopt
  // when there is none.
  absl::StatusOr<std::optional<storage::IssuedCertificate>>
  NewestHostCertificate(std::string_view name);
  // The newest host certificate of gateway `name` among the records made
  // before gateway host certificates named their gateway (user ""), by key
  // id and first principal. Every host certificate without a user is read
  // (targets' ones too, which grow with use), so the answer is kept per
  // name: no gateway's certificate is recorded without its user since, and
  // a later one that looks like it (an admin's certificate for a host of
  // the gateway's name) is not the gateway's. Names are those of gateway
  // identities the CA issued.
  absl::StatusOr<std::optional<storage::IssuedCertificate>>
  LegacyHostCertificate(const std::string& name);
  // Whether `key` is the host key gateway `gateway` is enrolled with: the
  // key of its NewestHostCertificate, neither revoked (that certificate by
  // serial, or the key). kPermissionDenied saying which and how to enrol
  // again; kUnavailable when the store cannot be asked.
  absl::Status CheckEnrolledHostKey(std::string_view gateway,
                                    const ssh::crypto::PublicKey& key);

  CaContext ctx_;
  const Settings settings_;
  VerifiedUserCertificates verified_user_certificates_;
  absl::Mutex legacy_mu_;
  absl::flat_hash_map<std::string, std::optional<storage::IssuedCertificate>>
      legacy_host_certificates_ ABSL_GUARDED_BY(legacy_mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_GATEWAY_SERVICE_H_
