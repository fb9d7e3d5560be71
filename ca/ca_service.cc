#include "ca/ca_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "base/clock.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "ca/enrollment.h"
#include "ca/password_hash.h"
#include "ca/service_util.h"
#include "ca/tls_material.h"

namespace sallyport::ca {
namespace {

constexpr size_t kMaxOtpBytes = 16;
// The shortest certificate `sp login --ttl` may ask for.
constexpr absl::Duration kMinLoginTtl = absl::Minutes(1);

}  // namespace

void RevocationToProto(const storage::Revocation& r, v1::Revocation* out) {
  out->set_id(r.id);
  if (r.serial.has_value()) out->set_serial(*r.serial);
  if (r.key_fingerprint.has_value()) {
    out->set_key_fingerprint(*r.key_fingerprint);
  }
  out->set_reason(r.reason);
  out->set_revoked_by(r.revoked_by);
  *out->mutable_revoked_at() = ToTimestamp(r.revoked_at);
}

absl::Status CaService::FillCaPublicKeys(v1::CaPublicKeys* out) {
  for (auto purpose :
       {storage::CaKeyPurpose::kUser, storage::CaKeyPurpose::kHost,
        storage::CaKeyPurpose::kSession}) {
    ASSIGN_OR_RETURN(std::vector<CaKeyring::TrustedKey> keys,
                     ctx_.keyring->TrustedKeys(purpose));
    for (const CaKeyring::TrustedKey& k : keys) {
      v1::CaPublicKey* p =
          purpose == storage::CaKeyPurpose::kUser   ? out->add_user_ca()
          : purpose == storage::CaKeyPurpose::kHost ? out->add_host_ca()
                                                    : out->add_session_ca();
      p->set_public_key(k.public_key);
      p->set_fingerprint(k.fingerprint);
      p->set_active(k.active);
    }
  }
  return absl::OkStatus();
}

grpc::Status CaService::Login(grpc::ServerContext* context,
                              const v1::LoginRequest* request,
                              v1::LoginResponse* response) {
  // A gateway identity is not a user: it never logs in, whatever password it
  // knows.
  if (ctx_.peers->PresentedKind(*context) == ClientIdentity::Kind::kGateway) {
    (void)ctx_.audit->Record(kEventAccessDenied, request->user(),
                             {{"method", "Login"},
                              {"source", PeerAddress(context->peer())},
                              {"reason", "a gateway identity cannot log in"}});
    return ToGrpc(
        absl::PermissionDeniedError("a gateway identity cannot log in"));
  }
  // Shape checks first: they say nothing about which users exist.
  if (request->user().empty()) {
    return ToGrpc(absl::InvalidArgumentError("user is required"));
  }
  struct Field {
    const char* name;
    size_t size, limit;
  };
  for (const Field& f :
       {Field{"user", request->user().size(), storage::kMaxNameBytes},
        Field{"password", request->password().size(), kMaxPasswordBytes},
        Field{"otp", request->otp().size(), kMaxOtpBytes}}) {
    if (f.size > f.limit) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat(f.name, " is longer than ", f.limit, " bytes")));
    }
  }
  if (absl::Status name = storage::ValidateText("user", request->user(),
                                                storage::kMaxNameBytes, true);
      !name.ok()) {
    return ToGrpc(name);
  }
  // No user's name holds a control, a bidirectional or an invisible
  // character; recorded as it came (the actor of login.failed), such a
  // name reached the auditor's terminal from the audit log.
  if (!base::IsPrintableUtf8(request->user())) {
    return ToGrpc(absl::InvalidArgumentError(
        "user: a user name holds no control, bidirectional or invisible "
        "character"));
  }
  absl::StatusOr<ssh::crypto::PublicKey> key =
      ParseSshKey(request->ssh_public_key());
  if (!key.ok()) return ToGrpc(key.status());
  absl::StatusOr<base::EvpPkeyPtr> tls_key =
      PublicKeyFromDer(request->tls_public_key_der());
  if (!tls_key.ok()) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("tls_public_key_der: ", tls_key.status().message())));
  }

  const absl::Duration requested_ttl = FromDurationProto(request->ttl());
  if (requested_ttl != absl::ZeroDuration() && requested_ttl < kMinLoginTtl) {
    return ToGrpc(absl::InvalidArgumentError(
        "ttl must be at least 1m (or unset for the longest the roles allow)"));
  }

  LoginAttempt attempt;
  attempt.user = request->user();
  attempt.password = base::SecretBytes::FromString(request->password());
  attempt.otp = request->otp();
  attempt.source = PeerAddress(context->peer());
  absl::StatusOr<storage::User> user = ctx_.login->Authenticate(attempt);
  if (!user.ok()) return ToGrpc(user.status());

  // `sp login --ttl`: the request's ttl as an upper bound (the policy takes
  // the minimum with the roles' max_ttl).
  const absl::Time issue_start = ctx_.clock->Now();
  std::optional<absl::Time> ttl_bound;
  if (requested_ttl > absl::ZeroDuration()) {
    ttl_bound = issue_start + requested_ttl;
  }
  absl::StatusOr<IssuedUserCertificate> issued =
      ctx_.issuer->IssueUserCertificate(user->name, *key, ttl_bound, user->name,
                                        "login");
  if (!issued.ok()) return ToGrpc(issued.status());
  response->set_ttl_capped(ttl_bound.has_value() &&
                           issued->decision.valid_before < *ttl_bound);
  const ssh::cert::Certificate& cert = issued->certificate;
  absl::StatusOr<std::string> client_pem = ctx_.client_ca->Issue(
      ClientIdentity::Kind::kUser, user->name, cert.serial,
      issued->decision.valid_after, issued->decision.valid_before,
      request->tls_public_key_der());
  if (!client_pem.ok()) return ToGrpc(client_pem.status());
  absl::Status keys = FillCaPublicKeys(response->mutable_ca_public_keys());
  if (!keys.ok()) return ToGrpc(keys);

  FillIssued(cert, response);
  response->set_tls_client_certificate_pem(*client_pem);
  absl::Status audited =
      ctx_.audit->Record(kEventLoginOk, user->name,
                         {{"user", user->name},
                          {"source", attempt.source},
                          {"serial", static_cast<int64_t>(cert.serial)}});
  if (!audited.ok()) return ToGrpc(audited);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* CaService::IssueUserCertificate(
    grpc::CallbackServerContext* context,
    const v1::IssueUserCertificateRequest* request,
    v1::IssueUserCertificateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The store reads (PostgreSQL: round trips) run on the issuance workers,
  // not on gRPC's few callback threads.
  RunOnIssuanceWorkers(
      ctx_.issuance_workers, [reactor](grpc::Status s) { reactor->Finish(s); },
      [this, context, request, response, reactor] {
        StartUserCertificate(*context, *request, response, reactor);
      });
  return reactor;
}

void CaService::StartUserCertificate(
    const grpc::ServerContextBase& context,
    const v1::IssueUserCertificateRequest& request,
    v1::IssueUserCertificateResponse* response,
    grpc::ServerUnaryReactor* reactor) {
  // Every store read of the call at once (one round trip on PostgreSQL):
  // the caller's authentication, its roles and the key's revocation.
  absl::StatusOr<ssh::crypto::PublicKey> key =
      ParseSshKey(request.ssh_public_key());
  storage::IssuanceReads reads;
  reads.roles = true;
  if (key.ok()) reads.revocations.emplace_back(0, key->FingerprintSha256());
  storage::User user;
  storage::IssuanceSnapshot read;
  absl::StatusOr<ClientIdentity> peer =
      ctx_.peers->Authenticate(context, &user, &reads, &read);
  if (!peer.ok()) return reactor->Finish(ToGrpc(peer.status()));
  if (peer->kind != ClientIdentity::Kind::kUser) {
    return reactor->Finish(ToGrpc(
        absl::PermissionDeniedError("only users get user certificates")));
  }
  if (!key.ok()) return reactor->Finish(ToGrpc(key.status()));
  // Finished on the store's commit thread once the record is durable.
  ctx_.issuer->IssueUserCertificateAsync(
      user, *key, peer->not_after, peer->name, "renew",
      [reactor, response](absl::StatusOr<IssuedUserCertificate> issued) {
        if (!issued.ok()) return reactor->Finish(ToGrpc(issued.status()));
        FillIssued(issued->certificate, response);
        reactor->Finish(grpc::Status::OK);
      },
      &read, /*key_revocation_at=*/0);
}

grpc::Status CaService::GetCaPublicKeys(grpc::ServerContext* context,
                                        const v1::GetCaPublicKeysRequest*,
                                        v1::CaPublicKeys* response) {
  absl::StatusOr<ClientIdentity> peer = ctx_.peers->Authenticate(*context);
  if (!peer.ok()) return ToGrpc(peer.status());
  return ToGrpc(FillCaPublicKeys(response));
}

grpc::Status CaService::ListRevocations(
    grpc::ServerContext* context, const v1::ListRevocationsRequest* request,
    v1::ListRevocationsResponse* response) {
  absl::StatusOr<ClientIdentity> peer = ctx_.peers->Authenticate(*context);
  if (!peer.ok()) return ToGrpc(peer.status());
  const int limit = request->limit() == 0 ? 1000 : request->limit();
  if (limit < 1 || limit > storage::kMaxListLimit || request->after_id() < 0) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("limit must be 1..", storage::kMaxListLimit)));
  }
  absl::StatusOr<std::vector<storage::Revocation>> list =
      request->current_only()
          ? ctx_.store->ListCurrentRevocations(request->after_id(),
                                               ctx_.clock->Now())
          : ctx_.store->ListRevocations(request->after_id());
  if (!list.ok()) return ToGrpc(list.status());
  // `limit` of them, as many as fit a page.
  ListPage page(static_cast<uint32_t>(limit), storage::kMaxListLimit);
  for (const storage::Revocation& r : *list) {
    v1::Revocation entry;
    RevocationToProto(r, &entry);
    if (!page.Take(entry)) {
      response->set_more(true);
      break;
    }
    *response->add_revocations() = std::move(entry);
  }
  return grpc::Status::OK;
}

absl::Status TooManyGatewayStreams(std::string_view what) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "too many revocation streams and recording uploads are open (at "
      "most ",
      kMaxGatewayStreamsPerGateway, " for a gateway, ", kMaxGatewayStreams,
      " for all gateways); try the ", std::string(what),
      " again when one has ended"));
}

absl::Status TooManyGatewayCalls(std::string_view method) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the CA is overloaded: this gateway, or all gateways together, have "
      "too many calls in progress (at most ",
      kMaxGatewayCallsPerGateway, " for a gateway, ", kMaxGatewayCalls,
      " for all gateways); try the ", std::string(method),
      " again when they have been answered"));
}

std::string GatewayActor(std::string_view name) {
  return absl::StrCat("gateway:", std::string(name));
}

absl::StatusOr<std::optional<InFlightLimiter::Ticket>> EnterGatewayCall(
    const CaContext& ctx, const grpc::ServerContextBase& context,
    const absl::StatusOr<ClientIdentity>& presented, std::string_view method,
    uint64_t write_bytes) {
  if (!presented.ok() || presented->kind != ClientIdentity::Kind::kGateway) {
    return std::nullopt;
  }
  InFlightLimiter::Ticket place = ctx.gateway_calls->TryEnter(presented->name);
  if (!place.ok()) return TooManyGatewayCalls(method);
  RETURN_IF_ERROR(
      ChargeGatewayWrite(ctx, context, presented->name, method, write_bytes));
  return std::optional<InFlightLimiter::Ticket>(std::move(place));
}

absl::StatusOr<GatewayCall> BeginGatewayCall(
    const CaContext& ctx, const grpc::ServerContextBase& context,
    std::string_view method, uint64_t write_bytes) {
  absl::StatusOr<ClientIdentity> presented =
      ctx.peers->VerifyPresented(context);
  absl::StatusOr<std::optional<InFlightLimiter::Ticket>> place =
      EnterGatewayCall(ctx, context, presented, method, write_bytes);
  if (!place.ok()) return place.status();
  absl::StatusOr<ClientIdentity> peer =
      ctx.peers->AuthenticateGateway(context, method, std::move(presented));
  if (!peer.ok()) return peer.status();
  return GatewayCall{*std::move(place), *std::move(peer)};
}

absl::Status OverWriteBudget(std::string_view gateway,
                             const GatewayWriteBudget::Policy& policy) {
  return absl::ResourceExhaustedError(
      absl::StrCat("gateway '", base::SafeText(gateway),
                   "' is over its write budget at the CA (",
                   policy.rate_bytes_per_second, " bytes/s); retry later"));
}

absl::Status ChargeGatewayWrite(const CaContext& ctx,
                                const grpc::ServerContextBase& context,
                                std::string_view gateway,
                                std::string_view method, uint64_t bytes) {
  if (ctx.gateway_writes == nullptr) return absl::OkStatus();
  std::optional<GatewayWriteBudget::Refusal> refused =
      ctx.gateway_writes->Take(gateway, bytes, ctx.clock->Monotonic());
  if (!refused.has_value()) return absl::OkStatus();
  const GatewayWriteBudget::Policy& policy = ctx.gateway_writes->policy();
  const absl::Status refusal = OverWriteBudget(gateway, policy);
  if (refused->report) {
    const std::string source = PeerAddress(context.peer());
    spdlog::warn(
        "gateway write budget: gateway={} method={} refused={} source={}: {}",
        base::SafeText(gateway), std::string(method), refused->refused, source,
        std::string(refusal.message()));
    // Best effort: the refusal stands whether or not it could be logged.
    (void)ctx.audit->Record(
        audit::kEventGatewayWriteBudgetExceeded, GatewayActor(gateway),
        {{"gateway", std::string(gateway)},
         {"method", std::string(method)},
         {"refused", static_cast<int64_t>(refused->refused)},
         {"rate_bytes_per_second",
          static_cast<int64_t>(policy.rate_bytes_per_second)},
         {"burst_bytes", static_cast<int64_t>(policy.burst_bytes)},
         {"source", source}});
  }
  return refusal;
}

OpenCallCaller::OpenCallCaller(const CaContext& ctx,
                               const grpc::ServerContextBase& context,
                               absl::Duration interval)
    : ctx_(ctx),
      context_(context),
      interval_(interval),
      seen_(ctx.revocations->generation()),
      next_(base::Clock::Real()->Monotonic() + interval) {}

absl::Status OpenCallCaller::Check(std::string_view ended, bool revoked_since) {
  const uint64_t generation = ctx_.revocations->generation();
  const absl::Duration now = base::Clock::Real()->Monotonic();
  if (!revoked_since && generation == seen_ && now < next_) {
    return absl::OkStatus();
  }
  seen_ = generation;
  next_ = now + interval_;
  absl::StatusOr<ClientIdentity> still = ctx_.peers->Authenticate(context_);
  if (still.ok()) return absl::OkStatus();
  if (absl::IsUnavailable(still.status())) return still.status();
  return absl::PermissionDeniedError(
      absl::StrCat(std::string(ended),
                   ": the identity it was opened with no longer "
                   "authenticates (",
                   still.status().message(), ")"));
}

grpc::Status CaService::WatchRevocations(
    grpc::ServerContext* context, const v1::WatchRevocationsRequest* request,
    grpc::ServerWriter<v1::Revocation>* writer) {
  absl::StatusOr<ClientIdentity> peer = ctx_.peers->Authenticate(*context);
  if (!peer.ok()) return ToGrpc(peer.status());
  const bool user = peer->kind == ClientIdentity::Kind::kUser;
  InFlightLimiter::Ticket watch =
      (user ? user_watches_ : *ctx_.gateway_streams).TryEnter(peer->name);
  if (!watch.ok()) {
    return ToGrpc(
        user ? absl::ResourceExhaustedError(absl::StrCat(
                   "too many revocation streams are open (at most ",
                   kMaxUserRevocationStreamsPerUser, " for a user, ",
                   kMaxUserRevocationStreams, " for all users); close one"))
             : TooManyGatewayStreams("revocation streams"));
  }
  int64_t after = std::max<int64_t>(0, request->after_id());
  uint64_t seen = ctx_.revocations->generation();
  // Checked again only when revocations arrive: the stream reads nothing
  // more while none do.
  OpenCallCaller caller(ctx_, *context, absl::InfiniteDuration());
  while (!context->IsCancelled()) {
    absl::StatusOr<std::vector<storage::Revocation>> list =
        ctx_.store->ListRevocations(after);
    if (!list.ok()) return ToGrpc(list.status());
    if (absl::Status still = caller.Check("the revocation stream ended",
                                          /*revoked_since=*/!list->empty());
        !still.ok()) {
      return ToGrpc(still);
    }
    for (const storage::Revocation& r : *list) {
      v1::Revocation out;
      RevocationToProto(r, &out);
      if (!writer->Write(out)) return grpc::Status::CANCELLED;
      after = r.id;
    }
    if (!ctx_.revocations->Wait(&seen, ctx_.revocation_poll)) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the CA is shutting down");
    }
  }
  return grpc::Status::CANCELLED;
}

grpc::Status CaService::IssueHostCertificate(
    grpc::ServerContext* context,
    const v1::IssueHostCertificateRequest* request,
    v1::IssueHostCertificateResponse* response) {
  const std::string source = PeerAddress(context->peer());
  // The request's shape first, so that a typo does not spend a join token.
  absl::Status name = ValidateHostPrincipal(request->host());
  if (!name.ok()) return ToGrpc(name);
  absl::StatusOr<ssh::crypto::PublicKey> key =
      ParseSshKey(request->ssh_public_key());
  if (!key.ok()) return ToGrpc(key.status());
  std::string actor;
  const HostEnrolledBy by = request->join_token().empty()
                                ? HostEnrolledBy::kAdmin
                                : HostEnrolledBy::kJoinToken;
  if (by == HostEnrolledBy::kJoinToken) {
    // The inventory's answer before the token is spent (a refused
    // enrolment keeps it), but for the names in use, which costs a read of
    // every host and host certificate; all checked when the host is
    // recorded.
    absl::StatusOr<std::optional<storage::Host>> allowed =
        CheckHostEnrolment(*ctx_.store, request->host(), request->address(),
                           request->port(), *key, by, ctx_.clock->Now(),
                           /*names_in_use=*/false);
    if (!allowed.ok()) {
      return ToGrpc(AuditEnrollRefused(
          *ctx_.audit, absl::StrCat("host:", request->host()), kJoinTokenHost,
          source, allowed.status()));
    }
    absl::StatusOr<storage::JoinToken> token = ConsumeJoinTokenOfKind(
        *ctx_.store, *ctx_.audit, request->join_token(), kJoinTokenHost,
        absl::StrCat("host:", request->host()), source);
    if (!token.ok()) return ToGrpc(token.status());
    actor = absl::StrCat("host:", request->host());
  } else {
    absl::StatusOr<ClientIdentity> peer =
        ctx_.peers->AuthenticateAdmin(*context, "IssueHostCertificate");
    if (!peer.ok()) return ToGrpc(peer.status());
    actor = peer->name;
  }
  absl::StatusOr<storage::Host> host =
      RecordEnrolledHost(*ctx_.store, request->host(), request->address(),
                         request->port(), *key, by, ctx_.clock->Now());
  if (!host.ok()) {
    if (by == HostEnrolledBy::kJoinToken) {
      return ToGrpc(AuditEnrollRefused(*ctx_.audit,
                                       absl::StrCat("host:", request->host()),
                                       kJoinTokenHost, source, host.status()));
    }
    return ToGrpc(host.status());
  }
  absl::StatusOr<ssh::cert::Certificate> cert =
      ctx_.issuer->IssueHostCertificate(host->name, *key, actor);
  if (!cert.ok()) return ToGrpc(cert.status());
  (void)ctx_.audit->Record(kEventHostEnrolled, actor,
                           {{"host", host->name},
                            {"address", host->address},
                            {"source", source},
                            {"serial", static_cast<int64_t>(cert->serial)},
                            {"key_fingerprint", key->FingerprintSha256()}});
  FillIssued(*cert, response);
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
