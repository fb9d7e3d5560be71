#include "ssh/auth/auth.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/transport/messages.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::auth {
namespace {

using transport::DisconnectReason;

bool IsCertAlgorithm(std::string_view algorithm) {
  return algorithm.ends_with("-cert-v01@openssh.com");
}

}  // namespace

const std::vector<std::string>& UserKeyAlgorithms() {
  static const auto* const kAlgs =
      new std::vector<std::string>{"ssh-ed25519-cert-v01@openssh.com",
                                   "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                                   "rsa-sha2-512-cert-v01@openssh.com",
                                   "rsa-sha2-256-cert-v01@openssh.com",
                                   "ssh-ed25519",
                                   "ecdsa-sha2-nistp256",
                                   "rsa-sha2-512",
                                   "rsa-sha2-256"};
  return *kAlgs;
}

// ------------------------------------------------------------ server

ServerAuth::ServerAuth(transport::Transport& transport,
                       ServerAuthOptions options)
    : transport_(transport), options_(std::move(options)) {
  if (!options_.principal_for_user) {
    options_.principal_for_user = [](std::string_view user) {
      return std::string(user);
    };
  }
  if (options_.clock == nullptr) options_.clock = base::Clock::Real();
}

absl::Status ServerAuth::Disconnect(DisconnectReason reason,
                                    absl::Status status) {
  transport_.Disconnect(reason, std::string(status.message().substr(0, 200)),
                        status);
  return status;
}

absl::Status ServerAuth::Handle(Bytes payload) {
  if (payload.empty()) return absl::InvalidArgumentError("empty message");
  if (pending()) {
    // Not processed until the pending decision is complete.
    if (deferred_.size() >= options_.max_deferred_messages ||
        deferred_bytes_ + payload.size() > options_.max_deferred_bytes) {
      return Disconnect(DisconnectReason::kProtocolError,
                        absl::ResourceExhaustedError(
                            "too many messages while authentication is "
                            "pending"));
    }
    deferred_.emplace_back(payload.begin(), payload.end());
    deferred_bytes_ += payload.size();
    return absl::OkStatus();
  }
  if (payload[0] == transport::kMsgServiceRequest) {
    auto service =
        transport::ParseServiceMsg(transport::kMsgServiceRequest, payload);
    if (!service.ok())
      return Disconnect(DisconnectReason::kProtocolError, service.status());
    if (*service != "ssh-userauth" || service_accepted_) {
      return Disconnect(DisconnectReason::kServiceNotAvailable,
                        absl::FailedPreconditionError("service not available"));
    }
    service_accepted_ = true;
    return transport_.Send(transport::SerializeServiceMsg(
        transport::kMsgServiceAccept, "ssh-userauth"));
  }
  if (payload[0] == transport::kMsgUserauthRequest && service_accepted_ &&
      !authenticated()) {
    absl::Status s = HandleRequest(payload);
    if (!s.ok() && !transport_.closed()) {
      return Disconnect(DisconnectReason::kProtocolError, s);
    }
    return s;
  }
  return Disconnect(
      DisconnectReason::kProtocolError,
      absl::InvalidArgumentError("unexpected message during authentication"));
}

absl::Status ServerAuth::Failure(bool partial) {
  if (!partial && ++failures_ >= options_.max_attempts) {
    return Disconnect(
        DisconnectReason::kNoMoreAuthMethodsAvailable,
        absl::PermissionDeniedError("too many authentication failures"));
  }
  wire::Writer w;
  w.Byte(transport::kMsgUserauthFailure).NameList({"publickey"}).Bool(partial);
  return transport_.Send(w.data());
}

absl::StatusOr<AuthAttempt> ServerAuth::BuildAttempt(std::string_view user,
                                                     std::string_view algorithm,
                                                     Bytes blob,
                                                     std::string* refusal,
                                                     bool* unknown_ca) {
  wire::Reader r(blob);
  ASSIGN_OR_RETURN(std::string_view blob_type, r.ReadStringView(128));
  if (blob_type != KeyBlobTypeFor(algorithm)) {
    return absl::InvalidArgumentError(
        "key algorithm does not match the key blob");
  }
  if (!IsCertAlgorithm(algorithm)) {
    ASSIGN_OR_RETURN(crypto::PublicKey key, crypto::PublicKey::FromBlob(blob));
    return AuthAttempt{std::string(user),
                       std::string(algorithm),
                       key,
                       std::nullopt,
                       std::nullopt,
                       false,
                       {},
                       {}};
  }
  ASSIGN_OR_RETURN(cert::Certificate certificate,
                   cert::Certificate::Parse(blob));
  if (options_.unknown_ca && !rechecking_ &&
      certificate.signature_key.has_value() &&
      std::none_of(options_.trusted_user_cas.begin(),
                   options_.trusted_user_cas.end(),
                   [&](const crypto::PublicKey& k) {
                     return k == *certificate.signature_key;
                   }) &&
      options_.unknown_ca(*certificate.signature_key)) {
    *unknown_ca = true;
    return absl::UnavailableError("fetching the user CA keys again");
  }
  cert::VerifyOptions v;
  v.trusted_cas = options_.trusted_user_cas;
  v.expected_type = cert::CertType::kUser;
  v.principal = options_.principal_for_user(user);
  v.now = options_.clock->Now();
  v.source_address = options_.peer_address;
  v.revocation_check = options_.revocation_check;
  auto permissions = cert::VerifyCertificate(certificate, v);
  if (!permissions.ok()) {
    *refusal = std::string(permissions.status().message());
    return permissions.status();
  }
  crypto::PublicKey key = certificate.key;
  return AuthAttempt{std::string(user),
                     std::string(algorithm),
                     key,
                     std::move(certificate),
                     *permissions,
                     false,
                     {},
                     {}};
}

absl::Status ServerAuth::HandleRequest(Bytes payload) {
  wire::Reader r(payload.subspan(1));
  absl::StatusOr<std::string_view> read_user = r.ReadCString(kMaxUserNameBytes);
  if (!read_user.ok()) {
    return Disconnect(DisconnectReason::kIllegalUserName,
                      absl::InvalidArgumentError(absl::StrCat(
                          "the user name is not at most ", kMaxUserNameBytes,
                          " bytes without a NUL")));
  }
  const std::string_view user = *read_user;
  ASSIGN_OR_RETURN(std::string_view service,
                   r.ReadCString(kMaxServiceNameBytes));
  ASSIGN_OR_RETURN(std::string_view method, r.ReadCString(64));
  // RFC 4252 §5: no change of user or service during authentication.
  if (user_.has_value() && (*user_ != user || *service_ != service)) {
    return Disconnect(
        DisconnectReason::kProtocolError,
        absl::PermissionDeniedError("change of user or service not allowed"));
  }
  user_ = std::string(user);
  service_ = std::string(service);
  if (service != "ssh-connection") {
    return Disconnect(DisconnectReason::kServiceNotAvailable,
                      absl::FailedPreconditionError("unknown service"));
  }
  if (method == "none") {
    RETURN_IF_ERROR(r.ExpectEnd());
    wire::Writer w;
    w.Byte(transport::kMsgUserauthFailure).NameList({"publickey"}).Bool(false);
    return transport_.Send(
        w.data());  // not counted: it is how clients ask for methods
  }
  if (method != "publickey") {
    if (options_.log) options_.log(nullptr, false, "unsupported method");
    return Failure();
  }
  ASSIGN_OR_RETURN(bool has_signature, r.ReadBool());
  ASSIGN_OR_RETURN(std::string_view algorithm,
                   r.ReadCString(kMaxKeyAlgorithmBytes));
  ASSIGN_OR_RETURN(Bytes blob, r.ReadString(kMaxKeyBlobBytes));
  std::optional<Bytes> signature;
  if (has_signature) {
    ASSIGN_OR_RETURN(signature, r.ReadString(kMaxSignatureBytes));
  }
  RETURN_IF_ERROR(r.ExpectEnd());

  const auto& algs = UserKeyAlgorithms();
  if (std::find(algs.begin(), algs.end(), algorithm) == algs.end()) {
    if (options_.log)
      options_.log(nullptr, false, absl::StrCat("algorithm not accepted"));
    return Failure();
  }
  std::vector<uint8_t> blob_copy(blob.begin(), blob.end());
  if (has_signature && used_keys_.count(blob_copy)) {
    if (options_.log)
      options_.log(nullptr, false, "key already tried on this connection");
    return Failure();
  }
  std::string refusal;
  bool unknown_ca = false;
  auto attempt = BuildAttempt(user, algorithm, blob, &refusal, &unknown_ca);
  if (unknown_ca) {
    // Handled again by Recheck; nothing counted or answered yet.
    recheck_ = std::vector<uint8_t>(payload.begin(), payload.end());
    return absl::OkStatus();
  }
  if (!attempt.ok()) {
    if (options_.log) {
      options_.log(
          nullptr, false,
          refusal.empty() ? std::string(attempt.status().message()) : refusal);
    }
    if (has_signature) used_keys_.insert(blob_copy);
    return Failure();
  }
  if (!has_signature) return Decide(std::move(*attempt), blob);
  used_keys_.insert(blob_copy);
  // The signature is checked with the key from this very request, and the
  // policy is asked about that same key (Go CVE-2024-45337 class).
  std::vector<uint8_t> data =
      SignedData(transport_.session_id(), user, service, algorithm, blob);
  absl::Status verified =
      VerifyUserauthSignature(data, *signature, algorithm, attempt->key);
  if (!verified.ok()) {
    if (options_.log)
      options_.log(&*attempt, false, "signature did not verify");
    return Failure();
  }
  attempt->signed_request = true;
  attempt->signed_data = std::move(data);
  attempt->signature.assign(signature->begin(), signature->end());
  return Decide(std::move(*attempt), blob);
}

absl::Status ServerAuth::Decide(AuthAttempt attempt, Bytes blob) {
  AuthDecision d = options_.policy->Decide(attempt);
  if (d.result == AuthResult::kPending) {
    pending_ = Pending{std::move(attempt), {blob.begin(), blob.end()}};
    return absl::OkStatus();
  }
  return Apply(std::move(attempt), blob, d);
}

absl::Status ServerAuth::Apply(AuthAttempt attempt, Bytes blob,
                               const AuthDecision& d) {
  if (!attempt.signed_request) {
    if (d.result == AuthResult::kReject) {
      if (options_.log) options_.log(&attempt, false, d.reason);
      return Failure();
    }
    wire::Writer w;
    w.Byte(transport::kMsgUserauthPkOk).String(attempt.algorithm).String(blob);
    return transport_.Send(w.data());
  }
  switch (d.result) {
    case AuthResult::kReject:
    case AuthResult::kPending:  // not a decision: refused
      if (options_.log) options_.log(&attempt, false, d.reason);
      return Failure();
    case AuthResult::kPartial:
      if (options_.log) options_.log(&attempt, true, "partial success");
      return Failure(/*partial=*/true);
    case AuthResult::kAccept:
      break;
  }
  if (options_.log) options_.log(&attempt, true, d.reason);
  identity_ = std::move(attempt);
  const uint8_t success = transport::kMsgUserauthSuccess;
  return transport_.Send(absl::MakeConstSpan(&success, 1));
}

absl::Status ServerAuth::SendBanner(std::string_view text) {
  if (identity_.has_value() || transport_.closed()) {
    return absl::FailedPreconditionError("banner after authentication");
  }
  wire::Writer w;
  w.Byte(transport::kMsgUserauthBanner).String(text).String("");
  return transport_.Send(w.data());
}

absl::Status ServerAuth::Complete(AuthDecision decision) {
  if (!pending_.has_value())
    return absl::FailedPreconditionError("no authentication decision pending");
  if (decision.result == AuthResult::kPending)
    return absl::InvalidArgumentError("Complete needs a decision");
  Pending p = std::move(*pending_);
  pending_.reset();
  absl::Status s = Apply(std::move(p.attempt), p.blob, decision);
  if (!s.ok()) {
    if (!transport_.closed())
      return Disconnect(DisconnectReason::kProtocolError, s);
    return s;
  }
  return HandleDeferred();
}

absl::Status ServerAuth::Recheck(
    std::vector<crypto::PublicKey> trusted_user_cas) {
  if (!recheck_.has_value())
    return absl::FailedPreconditionError("no request waits for a re-check");
  options_.trusted_user_cas = std::move(trusted_user_cas);
  std::vector<uint8_t> request = std::move(*recheck_);
  recheck_.reset();
  rechecking_ = true;
  absl::Status s = HandleRequest(request);
  rechecking_ = false;
  if (!s.ok()) {
    if (!transport_.closed())
      return Disconnect(DisconnectReason::kProtocolError, s);
    return s;
  }
  if (pending()) return absl::OkStatus();  // the policy answered kPending
  return HandleDeferred();
}

absl::Status ServerAuth::HandleDeferred() {
  // The messages that arrived meanwhile, in order, until one is pending.
  while (!deferred_.empty() && !pending() && !transport_.closed()) {
    std::vector<uint8_t> next = std::move(deferred_.front());
    deferred_.erase(deferred_.begin());
    deferred_bytes_ -= next.size();
    RETURN_IF_ERROR(Handle(next));
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------ client

ClientAuth::ClientAuth(transport::Transport& transport,
                       ClientAuthOptions options)
    : transport_(transport),
      options_(std::move(options)),
      waiting_(options_.identities_later) {}

absl::Status ClientAuth::Provide(std::string user,
                                 std::vector<ClientIdentity> ids) {
  if (!waiting_) {
    return absl::FailedPreconditionError(
        "the identities were given when authentication was set up");
  }
  waiting_ = false;
  options_.user = std::move(user);
  options_.identities = std::move(ids);
  if (!service_accepted_ || transport_.closed()) return absl::OkStatus();
  return TryNext();
}

absl::Status ClientAuth::Start() {
  return transport_.Send(transport::SerializeServiceMsg(
      transport::kMsgServiceRequest, "ssh-userauth"));
}

absl::Status ClientAuth::TryNext() {
  if (next_ >= options_.identities.size()) {
    absl::Status denied =
        absl::UnauthenticatedError("Permission denied (publickey)");
    transport_.Disconnect(DisconnectReason::kNoMoreAuthMethodsAvailable,
                          "no more keys", denied);
    return denied;
  }
  const ClientIdentity& id = options_.identities[next_++];
  std::string algorithm;
  std::vector<uint8_t> blob;
  if (!id.certificate.empty()) {
    wire::Reader r(id.certificate);
    ASSIGN_OR_RETURN(std::string_view type, r.ReadStringView(128));
    algorithm = std::string(type);
    blob = id.certificate;
  } else {
    algorithm = std::string(id.key.public_key().TypeName());
    blob = id.key.public_key().Blob();
  }
  const std::vector<uint8_t> data =
      SignedData(transport_.session_id(), options_.user, options_.service,
                 algorithm, blob);
  ASSIGN_OR_RETURN(std::vector<uint8_t> signature, id.key.Sign(data));
  wire::Writer w;
  w.Byte(transport::kMsgUserauthRequest)
      .String(options_.user)
      .String(options_.service)
      .String("publickey")
      .Bool(true)
      .String(algorithm)
      .String(blob)
      .String(signature);
  return transport_.Send(w.data());
}

absl::Status ClientAuth::Handle(Bytes payload) {
  if (payload.empty()) return absl::InvalidArgumentError("empty message");
  switch (payload[0]) {
    case transport::kMsgServiceAccept: {
      // RFC 4253 §10: the name must be the service we asked for, once.
      auto name =
          transport::ParseServiceMsg(transport::kMsgServiceAccept, payload);
      if (!name.ok() || *name != "ssh-userauth" || service_accepted_) {
        transport_.Disconnect(DisconnectReason::kProtocolError,
                              "unexpected SERVICE_ACCEPT");
        return absl::InvalidArgumentError("unexpected SERVICE_ACCEPT");
      }
      service_accepted_ = true;
      if (waiting_) return absl::OkStatus();  // until Provide
      return TryNext();
    }
    case transport::kMsgUserauthFailure:
      return TryNext();
    case transport::kMsgUserauthSuccess:
      authenticated_ = true;
      return absl::OkStatus();
    case transport::kMsgUserauthBanner: {
      wire::Reader r(payload.subspan(1));
      auto text = r.ReadStringView(transport::kMaxOutgoingPayload);
      if (text.ok() && banner_.size() < options_.max_banner_bytes) {
        banner_.append(
            text->substr(0, options_.max_banner_bytes - banner_.size()));
      }
      return absl::OkStatus();
    }
    default:
      transport_.Disconnect(DisconnectReason::kProtocolError,
                            "unexpected message");
      return absl::InvalidArgumentError(
          "unexpected message during authentication");
  }
}

}  // namespace sallyport::ssh::auth
