// GatewayService::AuthorizeChannel, and the user certificate's check it
// shares with IssueSessionCertificate (gateway_session_cert.cc): the CA
// verifies the user certificate the gateway forwards and decides with the
// RBAC engine (//ca/rbac) before answering or signing.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "ca/enrollment.h"
#include "ca/gateway_authz_internal.h"
#include "ca/gateway_service.h"
#include "ca/issuer.h"
#include "ca/presented_cert.h"
#include "ca/rbac/names.h"
#include "ca/rbac/rbac.h"
#include "ca/userauth_proof.h"

namespace sallyport::ca {
namespace {

namespace pb = ::sallyport::gateway::v1;

// "HOST:PORT", with IPv6 literals in brackets.
std::string JoinHostPort(std::string_view host, uint32_t port) {
  if (host.find(':') != std::string_view::npos)
    return absl::StrCat("[", std::string(host), "]:", port);
  return absl::StrCat(std::string(host), ":", port);
}

constexpr std::string_view kJumpPassthrough = "passthrough";
constexpr std::string_view kJumpRecord = "record";

// A jump no role passes through is still recorded when the user's roles
// reach the host at all: some role selects it (only the kind, the outer
// login or a deny rule refused the passthrough). The inner session is
// decided by RBAC like LOGIN+HOST. Every other refusal (certificate, user,
// no role selecting the host) refuses the jump itself.
// A deny rule refuses the recorded jump too unless it names channel kinds
// (then it is about passthrough, not about reaching the host).
bool JumpCanBeRecorded(const rbac::Decision& d,
                       const std::vector<storage::Role>& roles) {
  if (d.code == rbac::Reason::kKindNotAllowed ||
      d.code == rbac::Reason::kLoginNotAllowed)
    return true;
  if (d.code != rbac::Reason::kDeniedByRule) return false;
  absl::string_view rule = d.rule;
  size_t index = 0;
  if (!absl::ConsumePrefix(&rule, "deny[") ||
      !absl::ConsumeSuffix(&rule, "]") || !absl::SimpleAtoi(rule, &index))
    return false;
  for (const storage::Role& role : roles) {
    if (role.name == d.role && index < role.deny.size())
      return !role.deny[index].channels.empty();
  }
  return false;
}

// Empty when `cert` is the login certificate `issued` records (RecordOf,
// as the issuer wrote it); otherwise the first field in which it differs.
// The record holds every field the issuer decided but the extensions,
// which a certificate cannot widen beyond what the roles give at each
// check (the permissions are narrowed again by RBAC per channel).
std::string DiffersFromIssued(const ssh::cert::Certificate& cert,
                              const storage::IssuedCertificate& issued) {
  if (issued.purpose != storage::CertificatePurpose::kLogin) {
    return absl::StrCat(
        "that serial is a ",
        std::string(storage::CertificatePurposeName(issued.purpose)),
        " certificate, not a login certificate");
  }
  const storage::IssuedCertificate presented =
      RecordOf(cert, issued.user, issued.purpose);
  if (presented.public_key_fingerprint != issued.public_key_fingerprint) {
    return "another key";
  }
  if (presented.key_id != issued.key_id) return "another key id";
  if (presented.principals != issued.principals) return "other principals";
  if (presented.valid_after != issued.valid_after ||
      presented.valid_before != issued.valid_before) {
    return "another validity";
  }
  if (presented.ca_key_fingerprint != issued.ca_key_fingerprint) {
    return "signed by another CA key";
  }
  return "";
}

}  // namespace

// A decision's answer, as AuthorizeChannel gives it and as
// IssueSessionCertificate carries it for the session kinds.
void DecisionToProto(const rbac::Decision& d,
                     pb::AuthorizeChannelResponse& response) {
  response.set_allowed(d.allowed);
  response.set_reason(d.reason);
  response.set_role(d.role);
  response.set_rule(d.rule);
  response.set_record(std::string(storage::RecordModeName(d.record)));
  SetRecordingPolicy(d, response);  // recpol (issue 14)
  if (d.force_command.has_value()) response.set_force_command(*d.force_command);
}

void HostToProto(const storage::Host& host, pb::HostRecord* out) {
  out->set_name(host.name);
  out->set_address(host.address);
  out->set_port(host.port);
  out->set_trust(std::string(storage::HostTrustName(host.trust)));
  out->set_host_key(host.host_key);
}

GatewayService::PendingCheck GatewayService::StartCheck(
    std::string_view user_certificate, std::string_view login,
    std::string_view host, storage::IssuanceReads& reads) {
  PendingCheck p;
  p.presented = VerifyPresentedUserCertificateOnly(
      user_certificate, login, *ctx_.keyring, ctx_.clock->Now(),
      &verified_user_certificates_);
  if (!p.presented.ok()) return p;
  if (NeedsRevocationCheck(*p.presented)) {
    const ssh::cert::Certificate& cert = *p.presented->certificate;
    p.revocation_at = static_cast<int>(reads.revocations.size());
    reads.revocations.emplace_back(cert.serial, cert.KeyFingerprint());
  }
  if (p.presented->refusal.ok()) {
    p.user = true;
    reads.user = p.presented->user;
    reads.roles = true;
    // Its issue record, to bind it to this user and not just the name.
    if (NeedsRevocationCheck(*p.presented)) {
      p.issued = true;
      reads.certificate = p.presented->certificate->serial;
    }
    if (rbac::ValidateHostName(host).ok()) {
      p.host = true;
      reads.host = std::string(host);
    }
  }
  return p;
}

absl::StatusOr<GatewayService::Checked> GatewayService::FinishCheck(
    PendingCheck pending, const storage::IssuanceSnapshot& read) {
  if (!pending.presented.ok()) return pending.presented.status();
  Checked out;
  out.presented = *std::move(pending.presented);
  if (pending.revocation_at >= 0) {
    if (static_cast<size_t>(pending.revocation_at) >= read.revoked.size()) {
      return absl::UnavailableError("cannot check revocation; refusing");
    }
    ApplyRevocation(out.presented, read.revoked[pending.revocation_at]);
  }
  if (!out.presented.refusal.ok() || !pending.user) return out;
  if (!read.user.has_value()) {
    return absl::UnavailableError("the CA's store is unavailable");
  }
  const absl::StatusOr<storage::User>& user = *read.user;
  if (user.status().code() == absl::StatusCode::kNotFound) {
    out.presented.refusal = absl::PermissionDeniedError(
        absl::StrCat("user ", rbac::EscapeForReason(out.presented.user),
                     " no longer exists"));
    return out;
  }
  if (!user.ok())
    return absl::UnavailableError("the CA's store is unavailable");
  if (pending.issued) {
    // Only a login certificate this CA issued (and recorded, with its
    // cert.issued event, before handing it out) is accepted: one signed
    // outside the issuance with a user CA key (ssh-keygen -s with a copied
    // or stolen key) has no record and is refused, as is one that differs
    // from the record of its serial (another key, more principals, a longer
    // validity, or a session certificate's serial). A serial the store
    // cannot hold (0) was not read: not found.
    const absl::StatusOr<storage::IssuedCertificate> issued =
        read.certificate.has_value()
            ? *read.certificate
            : absl::StatusOr<storage::IssuedCertificate>(
                  absl::NotFoundError("no such certificate"));
    if (!issued.ok() && !absl::IsNotFound(issued.status())) {
      return absl::UnavailableError("the CA's store is unavailable");
    }
    const ssh::cert::Certificate& cert = *out.presented.certificate;
    if (!issued.ok()) {
      out.presented.refusal = absl::PermissionDeniedError(absl::StrCat(
          ssh::cert::DescribeForLog(cert),
          " was not issued by this CA (it has no record of serial ",
          cert.serial, "); log in with `sp login`"));
      return out;
    }
    if (const std::string differs = DiffersFromIssued(cert, *issued);
        !differs.empty()) {
      out.presented.refusal = absl::PermissionDeniedError(
          absl::StrCat(ssh::cert::DescribeForLog(cert),
                       " is not the certificate this CA issued with serial ",
                       cert.serial, " (", differs, ")"));
      return out;
    }
    // As PeerAuthenticator does for client certificates: a certificate
    // issued before the user of its name was created was issued to an
    // earlier user of that name (deleted), and a deleted and recreated
    // name does not inherit it.
    if (issued->user != user->name || issued->issued_at < user->created_at) {
      out.presented.refusal = absl::PermissionDeniedError(
          absl::StrCat(ssh::cert::DescribeForLog(*out.presented.certificate),
                       " was issued to an earlier user ",
                       rbac::EscapeForReason(out.presented.user),
                       " (deleted), not to the user of that name now"));
      return out;
    }
  }
  out.user = *user;
  out.roles = read.roles;
  if (pending.host) {
    if (!read.host.has_value()) {
      return absl::UnavailableError("the CA's store is unavailable");
    }
    const absl::StatusOr<storage::Host>& host = *read.host;
    if (host.ok()) {
      out.host = *host;
    } else if (!absl::IsNotFound(host.status())) {
      return host.status();
    }
  }
  return out;
}

grpc::Status GatewayService::AuthorizeChannel(
    grpc::ServerContext* context, const pb::AuthorizeChannelRequest* request,
    pb::AuthorizeChannelResponse* response) {
  // The presented certificate, verified once for the place and the
  // authentication.
  absl::StatusOr<ClientIdentity> presented =
      ctx_.peers->VerifyPresented(*context);
  absl::StatusOr<std::optional<InFlightLimiter::Ticket>> place =
      EnterGatewayCall(ctx_, *context, presented, "AuthorizeChannel");
  if (!place.ok()) return ToGrpc(place.status());
  storage::IssuanceReads reads;
  PendingCheck pending;
  // A place is taken only for a caller presenting a gateway identity.
  if (place->has_value()) {
    pending = StartCheck(request->user_certificate(), request->login(),
                         request->host(), reads);
  }
  storage::IssuanceSnapshot read;
  absl::StatusOr<ClientIdentity> peer = ctx_.peers->AuthenticateGateway(
      *context, "AuthorizeChannel", std::move(presented), &reads, &read);
  if (!peer.ok()) return ToGrpc(peer.status());
  std::optional<storage::ChannelKind> kind =
      storage::ParseChannelKind(request->kind());
  if (!kind.has_value()) {
    return ToGrpc(absl::InvalidArgumentError(
        "kind must be shell, exec, sftp, port-forward, agent-forward or "
        "proxyjump-passthrough"));
  }
  const uint32_t jump_port = request->jump_port();
  if (jump_port != 0 &&
      (*kind != storage::ChannelKind::kProxyJumpPassthrough ||
       !request->destination().empty() || jump_port > 65535)) {
    return ToGrpc(absl::InvalidArgumentError(
        "jump_port goes with kind proxyjump-passthrough, no destination and "
        "a port of 1..65535"));
  }
  rbac::AccessRequest access;
  access.login = request->login();
  access.host = request->host();
  access.kind = *kind;
  if (*kind == storage::ChannelKind::kPortForward) {
    absl::StatusOr<rbac::ForwardDestination> dest =
        rbac::ParseForwardDestination(request->destination());
    if (!dest.ok()) return ToGrpc(dest.status());
    access.destination = *std::move(dest);
  } else if (!request->destination().empty()) {
    return ToGrpc(
        absl::InvalidArgumentError("destination is only for port-forward"));
  }
  absl::StatusOr<Checked> checked = FinishCheck(std::move(pending), read);
  if (!checked.ok()) return ToGrpc(checked.status());
  std::string not_found;  // why a jump's address named no single host
  if (jump_port != 0) {
    // A jump names its host by inventory name or by address; the kind
    // follows from the port (one decision, so one audit event).
    if (!checked->host.has_value() && checked->presented.refusal.ok()) {
      absl::StatusOr<std::optional<storage::Host>> by_address =
          rbac::FindHostByAddress(*ctx_.store, request->host(), jump_port,
                                  &not_found);
      if (!by_address.ok()) return ToGrpc(by_address.status());
      checked->host = *std::move(by_address);
    }
    if (checked->host.has_value()) {
      access.host = checked->host->name;
      if (jump_port != checked->host->port && jump_port != 22) {
        access.kind = storage::ChannelKind::kPortForward;
        access.destination =
            rbac::ForwardDestination{request->host(), jump_port};
      }
    }
  }
  const std::string decided_kind(storage::ChannelKindName(access.kind));
  const bool jump = jump_port != 0 && checked->host.has_value() &&
                    access.kind == storage::ChannelKind::kProxyJumpPassthrough;
  response->set_kind(decided_kind);

  std::string code;
  response->set_user(checked->presented.user);
  response->set_certificate_revoked(checked->presented.revoked);
  if (checked->host.has_value()) {
    HostToProto(*checked->host, response->mutable_host());
  }
  if (!checked->presented.refusal.ok()) {
    response->set_allowed(false);
    response->set_reason(std::string(checked->presented.refusal.message()));
    code = checked->presented.revoked ? "certificate-revoked"
                                      : "certificate-refused";
  } else if (!not_found.empty()) {
    response->set_allowed(false);
    response->set_reason(not_found);
    code = "ambiguous-address";
  } else {
    rbac::Decision d =
        rbac::Decide(*checked->user, checked->roles, access, checked->host);
    if (jump) {
      // A jump some role passes through is relayed; one that no role passes
      // through but some role's selector reaches is recorded (the inner
      // session is then decided per login and channel); anything else is
      // refused here, with the reason.
      if (d.allowed) {
        response->set_jump_mode(std::string(kJumpPassthrough));
      } else if (JumpCanBeRecorded(d, checked->roles)) {
        response->set_jump_mode(std::string(kJumpRecord));
        d.allowed = true;
        d.reason = absl::StrCat("the jump to ", access.host, " is recorded (",
                                d.reason, ")");
        d.code = rbac::Reason::kAllowed;
      }
    }
    DecisionToProto(d, *response);
    code = std::string(rbac::ReasonName(d.code));
  }
  const std::vector<AuditField> fields = {
      {"gateway", peer->name},
      {"user", checked->presented.user},
      {"login", request->login()},
      {"host", access.host},
      {"kind", decided_kind},
      {"destination",
       access.destination.has_value()
           ? JoinHostPort(access.destination->host, access.destination->port)
           : request->destination()},
      {"code", code},
      {"role", response->role()},
      {"rule", response->rule()},
      {"reason", response->reason()}};
  if (jump && response->allowed()) {
    // One event per jump decision, saying how the jump is carried.
    absl::Status audited =
        ctx_.audit->Record(audit::kEventJumpAllowed, GatewayActor(peer->name),
                           {{"gateway", peer->name},
                            {"user", checked->presented.user},
                            {"login", request->login()},
                            {"host", access.host},
                            {"mode", response->jump_mode()},
                            {"role", response->role()},
                            {"rule", response->rule()},
                            {"reason", response->reason()}});
    if (!audited.ok()) return ToGrpc(audited);
  } else if (!response->allowed()) {
    // Fail closed: a refusal that cannot be audited is still a refusal, but
    // the gateway learns the CA could not record it.
    absl::Status audited = ctx_.audit->Record(kEventAccessDenied,
                                              GatewayActor(peer->name), fields);
    if (!audited.ok()) return ToGrpc(audited);
  }
  spdlog::info(
      "authorize: gateway={} user={} login={} host={} kind={} {}{}{}",
      peer->name, rbac::EscapeForReason(checked->presented.user),
      rbac::EscapeForReason(request->login()),
      rbac::EscapeForReason(access.host), decided_kind, code,
      response->jump_mode().empty() ? "" : " mode=", response->jump_mode());
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
