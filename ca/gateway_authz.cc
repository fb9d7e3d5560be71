// GatewayService::AuthorizeChannel and IssueSessionCertificate: the CA
// verifies the user certificate the gateway forwards and decides with the
// RBAC engine (//ca/rbac) before answering or signing.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "ca/enrollment.h"
#include "ca/gateway_service.h"
#include "ca/issuer.h"
#include "ca/presented_cert.h"
#include "ca/rbac/names.h"
#include "ca/rbac/rbac.h"
#include "ca/userauth_proof.h"

namespace sallyport::ca {
namespace {

namespace pb = ::sallyport::gateway::v1;

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

// "HOST:PORT", with IPv6 literals in brackets.
std::string JoinHostPort(std::string_view host, uint32_t port) {
  if (host.find(':') != std::string_view::npos)
    return absl::StrCat("[", std::string(host), "]:", port);
  return absl::StrCat(std::string(host), ":", port);
}

// A certificate's valid_before as a time: kForever, and any end past what
// the store keeps (microseconds in an int64), is never.
absl::Time CertificateEnd(uint64_t valid_before) {
  constexpr uint64_t kLastSecond =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 1000000;
  return valid_before >= kLastSecond
             ? absl::InfiniteFuture()
             : absl::FromUnixSeconds(static_cast<int64_t>(valid_before));
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

}  // namespace

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
    // As PeerAuthenticator does for client certificates: a certificate
    // issued before the user of its name was created was issued to an
    // earlier user of that name (deleted), and a deleted and recreated
    // name does not inherit it. One not in the store was not issued by
    // this CA's issuance (e.g. signed offline with its key): it is
    // checked as before, by its signature, validity and revocation.
    // A serial the store cannot hold (0) was not read: not found.
    const absl::StatusOr<storage::IssuedCertificate> issued =
        read.certificate.has_value()
            ? *read.certificate
            : absl::StatusOr<storage::IssuedCertificate>(
                  absl::NotFoundError("no such certificate"));
    if (!issued.ok() && !absl::IsNotFound(issued.status())) {
      return absl::UnavailableError("the CA's store is unavailable");
    }
    if (issued.ok() &&
        (issued->user != user->name || issued->issued_at < user->created_at)) {
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
                            {"rule", response->rule()}});
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

grpc::ServerUnaryReactor* GatewayService::IssueSessionCertificate(
    grpc::CallbackServerContext* context,
    const pb::IssueSessionCertificateRequest* request,
    pb::IssueSessionCertificateResponse* response) {
  absl::StatusOr<ClientIdentity> presented =
      ctx_.peers->VerifyPresented(*context);
  absl::StatusOr<std::optional<InFlightLimiter::Ticket>> place =
      EnterGatewayCall(ctx_, *context, presented, "IssueSessionCertificate");
  if (!place.ok()) {
    grpc::ServerUnaryReactor* refused = context->DefaultReactor();
    refused->Finish(ToGrpc(place.status()));
    return refused;
  }
  PlaceHoldingReactor* reactor = new PlaceHoldingReactor(*std::move(place));
  // The store reads (PostgreSQL: round trips) run on the issuance workers,
  // not on gRPC's few callback threads.
  RunOnIssuanceWorkers(
      ctx_.issuance_workers, [reactor](grpc::Status s) { reactor->Answer(s); },
      [this, context, presented = std::move(presented), request, response,
       reactor] {
        grpc::Status refused = StartSessionCertificate(
            *context, presented, request, response, reactor);
        if (!refused.ok()) reactor->Answer(refused);
      });
  return reactor;
}

grpc::Status GatewayService::StartSessionCertificate(
    const grpc::ServerContextBase& context,
    const absl::StatusOr<ClientIdentity>& presented,
    const pb::IssueSessionCertificateRequest* request,
    pb::IssueSessionCertificateResponse* response,
    PlaceHoldingReactor* reactor) {
  // Every store read of the call at once (one round trip on PostgreSQL):
  // the gateway's authentication, the user certificate's revocation, the
  // user with its roles, the host, and the ephemeral key's revocation.
  storage::IssuanceReads reads;
  PendingCheck pending;
  absl::StatusOr<ssh::crypto::PublicKey> key =
      absl::PermissionDeniedError("not a gateway");
  // EnterGatewayCall took a place only for a caller presenting a gateway
  // identity; only its user certificate is checked.
  if (presented.ok() && presented->kind == ClientIdentity::Kind::kGateway) {
    pending = StartCheck(request->user_certificate(), request->login(),
                         request->host(), reads);
    key = ParseSshKey(request->ephemeral_public_key(), "ephemeral_public_key");
    reads.session = request->session_id();  // its owner (issue 14)
  }
  int key_revocation_at = -1;
  if (key.ok()) {
    key_revocation_at = static_cast<int>(reads.revocations.size());
    reads.revocations.emplace_back(0, key->FingerprintSha256());
  }
  storage::IssuanceSnapshot read;
  absl::StatusOr<ClientIdentity> peer = ctx_.peers->AuthenticateGateway(
      context, "IssueSessionCertificate", presented, &reads, &read);
  if (!peer.ok()) return ToGrpc(peer.status());
  absl::Status valid =
      ValidateSimpleName("session_id", request->session_id(), 64);
  if (!valid.ok()) return ToGrpc(valid);
  if (!key.ok()) return ToGrpc(key.status());
  if (settings_.egress_addresses.empty()) {
    return ToGrpc(absl::FailedPreconditionError(
        "the CA has no gateway.egress_addresses configured, so it issues no "
        "session certificates"));
  }
  const std::string actor = GatewayActor(peer->name);
  auto refuse = [&](std::string_view user, absl::Status why,
                    std::vector<AuditField> extra = {}) {
    std::vector<AuditField> fields = {
        {"subject", std::string(user)},
        {"purpose", "session"},
        {"session_id", request->session_id()},
        {"login", request->login()},
        {"host", request->host()},
        {"code", std::string(absl::StatusCodeToString(why.code()))},
        {"reason", std::string(why.message())}};
    for (AuditField& f : extra) fields.push_back(std::move(f));
    (void)ctx_.audit->Record(kEventCertRefused, actor, fields);
    return ToGrpc(why);
  };

  absl::StatusOr<Checked> checked = FinishCheck(std::move(pending), read);
  if (!checked.ok()) return ToGrpc(checked.status());
  if (!checked->presented.refusal.ok()) {
    return refuse(
        checked->presented.user,
        absl::PermissionDeniedError(checked->presented.refusal.message()));
  }
  // Finding B: the certificate is public; only the user's signature from
  // logging in to the gateway shows that the user is there. Checked before
  // any lookup by address or RBAC, so a gateway without it learns nothing.
  if (absl::Status proof = CheckUserauthProof(
          request->userauth_signed_data(), request->userauth_signature(),
          *checked->presented.certificate, request->login(), request->host());
      !proof.ok()) {
    return refuse(checked->user->name, proof);
  }
  // LOGIN+ADDRESS: a host is named by its inventory name or any of its
  // addresses; the certificate's host record gives the gateway the name.
  if (!checked->host.has_value()) {
    std::string ambiguous;
    absl::StatusOr<std::optional<storage::Host>> by_address =
        rbac::FindHostByAddress(*ctx_.store, request->host(), 0, &ambiguous);
    if (!by_address.ok()) return ToGrpc(by_address.status());
    if (!ambiguous.empty()) {
      return refuse(checked->user->name,
                    absl::PermissionDeniedError(ambiguous));
    }
    checked->host = *std::move(by_address);
  }
  const std::string host_name =
      checked->host.has_value() ? checked->host->name : request->host();
  // RBAC again, just before signing.
  rbac::Permissions perms =
      rbac::EffectivePermissions(*checked->user, checked->roles,
                                 request->login(), host_name, checked->host);
  if (!perms.decision.allowed) {
    return refuse(checked->user->name,
                  absl::PermissionDeniedError(perms.decision.reason));
  }
  // Issue 14: a session id another gateway owns (it wrote the session's
  // events or was issued its certificate first) is refused before
  // anything is signed. The record claims the id for this gateway in its
  // transaction, which also decides a race between two gateways.
  if (!read.session_owner.has_value() || !read.session_owner->ok()) {
    return ToGrpc(absl::UnavailableError("the CA's store is unavailable"));
  }
  if (const std::string& owner = **read.session_owner;
      !owner.empty() && owner != peer->name) {
    return refuse(checked->user->name,
                  SessionOfAnotherGateway(request->session_id()),
                  {{"gateway", peer->name}, {"owner", owner}});
  }
  // Extensions: what the user's certificate grants AND what RBAC allows.
  CertificateIssuer::SessionCertificateSpec spec;
  spec.user = checked->user->name;
  spec.user_created_at = checked->user->created_at;
  spec.session_id = request->session_id();
  spec.gateway = peer->name;
  spec.login = request->login();
  spec.host = host_name;
  spec.source_address = absl::StrJoin(settings_.egress_addresses, ",");
  if (static_cast<size_t>(key_revocation_at) < read.revoked.size()) {
    spec.key_revoked = read.revoked[key_revocation_at];
  }
  const ssh::cert::Certificate& user_cert = *checked->presented.certificate;
  // Finding B: the proof gets this one certificate. The record refuses a
  // proof used before (a replay: an honest gateway asks once per signed
  // login, and the signed data holds that connection's session
  // identifier), and remembers it as long as the user certificate is
  // valid, after which the proof is refused with the certificate.
  spec.userauth_proof_sha256 =
      UserauthProofDigest(request->userauth_signed_data());
  spec.userauth_proof_expires_at = CertificateEnd(user_cert.valid_before);
  // force-command: the roles' (when every session kind forces the same
  // one), else the user certificate's, so the host enforces what the
  // gateway does.
  spec.force_command = perms.force_command.has_value()
                           ? perms.force_command
                           : checked->presented.permissions.force_command;
  for (const ssh::cert::CertOption& e : perms.extensions) {
    const ssh::cert::CertOption* granted = user_cert.FindExtension(e.name);
    if (granted != nullptr && granted->data.empty()) {
      spec.extensions.push_back(e);
    }
  }
  SetRecordingPolicy(perms.decision, *response);  // recpol (issue 14)
  // The session kinds allowed now, decided as AuthorizeChannel would.
  std::string allowed_kinds;
  for (storage::ChannelKind kind :
       {storage::ChannelKind::kShell, storage::ChannelKind::kExec,
        storage::ChannelKind::kSftp}) {
    rbac::AccessRequest access;
    access.login = request->login();
    access.host = host_name;
    access.kind = kind;
    rbac::Decision d =
        rbac::Decide(*checked->user, checked->roles, access, checked->host);
    if (!d.allowed) continue;
    const std::string name(storage::ChannelKindName(kind));
    pb::AuthorizeChannelResponse* a = response->add_session_decisions();
    DecisionToProto(d, *a);
    HostToProto(*checked->host, a->mutable_host());
    a->set_user(checked->presented.user);
    a->set_kind(name);
    absl::StrAppend(&allowed_kinds, allowed_kinds.empty() ? "" : ",", name);
  }
  // Debug only: the issuance's audit event (and its log line) follows.
  spdlog::debug(
      "authorize: gateway={} user={} login={} host={} kinds={} allowed with "
      "the session certificate",
      peer->name, rbac::EscapeForReason(checked->presented.user),
      rbac::EscapeForReason(request->login()), rbac::EscapeForReason(host_name),
      allowed_kinds.empty() ? "none" : allowed_kinds);
  // The record commits on the store's commit thread, which finishes the
  // call; this thread is free for the next request meanwhile.
  ctx_.issuer->IssueSessionCertificateAsync(
      spec, *key, actor,
      [response, reactor, host = *checked->host, record = perms.record,
       gateway = peer->name,
       spec](absl::StatusOr<ssh::cert::Certificate> cert) {
        if (!cert.ok()) return reactor->Answer(ToGrpc(cert.status()));
        FillIssued(*cert, response->mutable_certificate());
        HostToProto(host, response->mutable_host());
        response->set_record(std::string(storage::RecordModeName(record)));
        // Debug only: every issuance is already an audit event.
        spdlog::debug(
            "session certificate: gateway={} user={} session={} login={} "
            "host={} serial={}",
            gateway, rbac::EscapeForReason(spec.user), spec.session_id,
            spec.login, spec.host, cert->serial);
        reactor->Answer(grpc::Status::OK);
      });
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
