// spctl tokens create|ls|revoke: one-time join tokens for gateways and
// hosts. Only `create` ever prints a secret; `ls` and `revoke` name tokens
// by id and show their kind, state, expiry, creator and, for a gateway
// token made for one gateway (`create --gateway-name`), that gateway.
#include "absl/strings/str_cat.h"
#include "cli/spctl.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Admin::Stub;

// ListJoinTokens page size, and the most tokens `tokens ls` collects.
constexpr int kTokenPage = 1000;
constexpr int kMaxListedTokens = 100000;

struct TokenArgs {
  std::string kind;
  std::string ttl;
  std::string gateway_name;
  bool active = false;
  int64_t id = 0;
};

int Create(Spctl& ctl, const TokenArgs& a) {
  pb::CreateJoinTokenRequest req;
  if (a.kind != "gateway" && a.kind != "host") {
    return ctl.Error("--kind must be gateway or host", kExitUsage);
  }
  req.set_purpose(a.kind);
  if (!a.gateway_name.empty() && a.kind != "gateway") {
    return ctl.Error("--gateway-name is only for --kind gateway", kExitUsage);
  }
  req.set_gateway_name(a.gateway_name);
  if (!a.ttl.empty()) {
    absl::StatusOr<absl::Duration> ttl = ParseDurationFlag(a.ttl);
    if (!ttl.ok()) return ctl.Error(ttl.status().message(), kExitUsage);
    // Sent exactly: cut to whole seconds, 500ms became 0, which the CA
    // takes for "the default" (1 h), a longer token than asked for.
    if (*ttl < absl::Seconds(1)) {
      return ctl.Error("--ttl must be at least 1s", kExitUsage);
    }
    const absl::Duration whole = absl::Trunc(*ttl, absl::Seconds(1));
    req.mutable_ttl()->set_seconds(absl::ToInt64Seconds(whole));
    req.mutable_ttl()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(*ttl - whole)));
  }
  pb::CreateJoinTokenResponse resp;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::CreateJoinToken, req, &resp,
                     "tokens create")) {
    return *rc;
  }
  if (!ctl.Structured(resp)) ctl.out() << resp.token() << "\n";
  return kExitOk;
}

int List(Spctl& ctl, const TokenArgs& a) {
  pb::ListJoinTokensResponse all;
  int64_t after = 0;
  for (;;) {
    pb::ListJoinTokensRequest req;
    req.set_active_only(a.active);
    req.set_after_id(after);
    req.set_limit(kTokenPage);
    pb::ListJoinTokensResponse resp;
    if (auto rc = Call(ctl, ctl.Admin(), &Stub::ListJoinTokens, req, &resp,
                       "tokens ls")) {
      return *rc;
    }
    for (const pb::JoinToken& t : resp.tokens()) {
      *all.add_tokens() = t;
      after = t.id();
    }
    if (resp.tokens_size() < kTokenPage ||
        all.tokens_size() >= kMaxListedTokens) {
      break;
    }
  }
  if (ctl.Structured(all)) return kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const pb::JoinToken& t : all.tokens()) {
    rows.push_back({std::to_string(t.id()), t.purpose(), t.state(),
                    FormatTime(t.expires_at()), t.created_by(),
                    FormatTime(t.created_at()),
                    t.has_used_at()      ? FormatTime(t.used_at())
                    : t.has_revoked_at() ? FormatTime(t.revoked_at())
                                         : "-",
                    t.gateway_name().empty() ? "-" : t.gateway_name()});
  }
  PrintTable(ctl.out(),
             {"ID", "KIND", "STATE", "EXPIRES (UTC)", "CREATED BY",
              "CREATED (UTC)", "USED/REVOKED (UTC)", "GATEWAY"},
             rows);
  return kExitOk;
}

int Revoke(Spctl& ctl, const TokenArgs& a) {
  pb::RevokeJoinTokenRequest req;
  req.set_id(a.id);
  pb::JoinToken resp;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::RevokeJoinToken, req, &resp,
                     absl::StrCat("tokens revoke ", a.id))) {
    return *rc;
  }
  if (!ctl.Structured(resp)) {
    ctl.out() << "Revoked join token " << resp.id() << " (" << resp.purpose()
              << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddTokenCommands(CLI::App& app, Spctl& ctl, Action* action) {
  auto a = std::make_shared<TokenArgs>();
  Spctl* c = &ctl;
  CLI::App* tokens = app.add_subcommand("tokens", "one-time join tokens");
  tokens->require_subcommand(1);

  CLI::App* create = tokens->add_subcommand(
      "create",
      "make a join token; prints only the token (the record with "
      "--output json)");
  create->add_option("--kind", a->kind, "gateway or host")->required();
  create->add_option("--ttl", a->ttl,
                     "how long it may be used (default 1h, at most 168h)");
  create->add_option(
      "--gateway-name", a->gateway_name,
      "--kind gateway: the only name it enrols; a name already enrolled "
      "(`sallyport-gateway enroll --force`) needs such a token");
  OnRun(create, action, [c, a] { return Create(*c, *a); });

  CLI::App* ls = tokens->add_subcommand(
      "ls", "list join tokens (id, kind, state, expiry; never the secret)");
  ls->add_flag("--active", a->active, "only tokens that can still enrol");
  OnRun(ls, action, [c, a] { return List(*c, *a); });

  CLI::App* revoke = tokens->add_subcommand(
      "revoke", "revoke an unused join token so it enrols nothing");
  revoke->add_option("ID", a->id, "the token's id (from `tokens ls`)")
      ->required();
  OnRun(revoke, action, [c, a] { return Revoke(*c, *a); });
}

}  // namespace sallyport::cli
