// AdminService: join tokens (`spctl tokens create|ls|revoke`). A token's
// secret is returned once by CreateJoinToken; listings and revocation name
// tokens by id and never show the secret or its hash.
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "base/status_macros.h"
#include "ca/admin_service.h"
#include "ca/enrollment.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;

constexpr absl::Duration kDefaultTokenTtl = absl::Hours(1);
constexpr absl::Duration kMaxTokenTtl = absl::Hours(24 * 7);

std::string TokenState(const storage::JoinToken& t, absl::Time now) {
  if (t.used_at.has_value()) return "used";
  if (t.revoked_at.has_value()) return "revoked";
  if (t.expires_at <= now) return "expired";
  return "active";
}

void TokenToProto(const storage::JoinToken& t, absl::Time now,
                  pb::JoinToken* out) {
  out->set_id(t.id);
  out->set_purpose(t.purpose);
  out->set_state(TokenState(t, now));
  out->set_created_by(t.created_by);
  *out->mutable_created_at() = ToTimestamp(t.created_at);
  *out->mutable_expires_at() = ToTimestamp(t.expires_at);
  if (t.used_at.has_value()) *out->mutable_used_at() = ToTimestamp(*t.used_at);
  if (t.revoked_at.has_value()) {
    *out->mutable_revoked_at() = ToTimestamp(*t.revoked_at);
  }
  out->set_gateway_name(t.gateway_name);
}

}  // namespace

grpc::Status AdminService::CreateJoinToken(
    grpc::ServerContext* context, const pb::CreateJoinTokenRequest* request,
    pb::CreateJoinTokenResponse* response) {
  std::vector<AuditField> fields = {{"purpose", request->purpose()}};
  if (!request->gateway_name().empty()) {
    fields.push_back({"gateway_name", request->gateway_name()});
  }
  return Run(
      context, "CreateJoinToken", std::move(fields),
      [&](const ClientIdentity& admin) -> absl::Status {
        absl::Duration ttl = FromDurationProto(request->ttl());
        if (ttl == absl::ZeroDuration()) ttl = kDefaultTokenTtl;
        if (ttl < absl::Seconds(1) || ttl > kMaxTokenTtl) {
          return absl::InvalidArgumentError("ttl must be in [1s, 7 days]");
        }
        if (request->purpose() != kJoinTokenGateway &&
            request->purpose() != kJoinTokenHost) {
          return absl::InvalidArgumentError(
              "purpose must be \"gateway\" or \"host\"");
        }
        if (!request->gateway_name().empty()) {
          if (request->purpose() != kJoinTokenGateway) {
            return absl::InvalidArgumentError(
                "gateway_name is only for a token of purpose \"gateway\"");
          }
          RETURN_IF_ERROR(ValidateGatewayName(request->gateway_name()));
        }
        std::string raw(32, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                       static_cast<int>(raw.size())) != 1) {
          return absl::InternalError("RAND_bytes failed");
        }
        std::string token = absl::WebSafeBase64Escape(raw);
        OPENSSL_cleanse(raw.data(), raw.size());
        storage::NewJoinToken t;
        t.token = base::SecretBytes::FromString(token);
        t.purpose = request->purpose();
        t.created_by = admin.name;
        t.expires_at = ctx_.clock->Now() + ttl;
        t.gateway_name = request->gateway_name();
        ASSIGN_OR_RETURN(storage::JoinToken stored,
                         ctx_.store->CreateJoinToken(t));
        response->set_token(token);
        OPENSSL_cleanse(token.data(), token.size());
        response->set_token_hash(stored.token_hash);
        response->set_id(stored.id);
        *response->mutable_expires_at() = ToTimestamp(stored.expires_at);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListJoinTokens(
    grpc::ServerContext* context, const pb::ListJoinTokensRequest* request,
    pb::ListJoinTokensResponse* response) {
  return Run(context, "ListJoinTokens",
             {{"active_only", request->active_only()}},
             [&](const ClientIdentity&) -> absl::Status {
               const absl::Time now = ctx_.clock->Now();
               storage::JoinTokenFilter filter;
               if (request->active_only()) filter.usable_at = now;
               filter.after_id = request->after_id();
               // The store checks the limit (1..kMaxTokenListLimit).
               filter.limit = request->limit() == 0 ? kDefaultTokenListLimit
                                                    : request->limit();
               ASSIGN_OR_RETURN(std::vector<storage::JoinToken> tokens,
                                ctx_.store->ListJoinTokens(filter));
               for (const storage::JoinToken& t : tokens) {
                 TokenToProto(t, now, response->add_tokens());
               }
               return absl::OkStatus();
             });
}

grpc::Status AdminService::RevokeJoinToken(
    grpc::ServerContext* context, const pb::RevokeJoinTokenRequest* request,
    pb::JoinToken* response) {
  return Run(context, "RevokeJoinToken", {{"token_id", request->id()}},
             [&](const ClientIdentity&) -> absl::Status {
               ASSIGN_OR_RETURN(storage::JoinToken t,
                                ctx_.store->RevokeJoinToken(request->id()));
               TokenToProto(t, ctx_.clock->Now(), response);
               return absl::OkStatus();
             });
}

}  // namespace sallyport::ca
