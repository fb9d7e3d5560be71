// `spctl tokens create|ls|revoke` against the real CA (issue 15): listings
// name tokens by id with kind, state, expiry and creator, and never show a
// secret or its hash (table, JSON, YAML); a revoked token enrols neither a
// host (CertificateAuthority.IssueHostCertificate) nor a gateway
// (Gateway.EnrollGateway) while an unrevoked one does; the new Admin RPCs
// refuse a gateway identity.
#include <grpcpp/grpcpp.h>

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/sshd_fixture.h"

namespace sallyport::e2e {
namespace {

namespace pb = admin::v1;

class SpctlTokensTest : public SpctlTestBase {
 protected:
  // `spctl tokens create --kind KIND --output json`.
  pb::CreateJoinTokenResponse Create(const std::string& kind) {
    pb::CreateJoinTokenResponse out;
    auto r =
        env_->Spctl({"tokens", "create", "--kind", kind, "--output", "json"});
    EXPECT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &out).ok())
        << r.out;
    EXPECT_GT(out.id(), 0) << r.out;
    return out;
  }
  // IssueHostCertificate for `host` with a join token (no client
  // certificate).
  grpc::Status EnrolHost(const std::string& host, const std::string& token) {
    auto key = sallyport::testing::GenerateKey(env_->Path(""), host + "_key");
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "key");
    ca::v1::IssueHostCertificateRequest req;
    req.set_host(host);
    req.set_ssh_public_key(key->public_line);
    req.set_join_token(token);
    req.set_address("127.0.0.1");
    ca::v1::IssueHostCertificateResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    return ca::v1::CertificateAuthority::NewStub(env_->CaChannel())
        ->IssueHostCertificate(&ctx, req, &resp);
  }
  pb::ListJoinTokensResponse ListJson(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"tokens", "ls", "--output", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = env_->Spctl(args);
    EXPECT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(IsJson(r.out)) << r.out;
    pb::ListJoinTokensResponse out;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &out).ok())
        << r.out;
    return out;
  }
  static std::string StateOf(const pb::ListJoinTokensResponse& list,
                             int64_t id) {
    for (const pb::JoinToken& t : list.tokens()) {
      if (t.id() == id) return t.state();
    }
    return "missing";
  }
};

TEST_F(SpctlTokensTest, LsShowsIdKindStateAndNeverTheSecretOrItsHash) {
  const pb::CreateJoinTokenResponse host = Create("host");
  const pb::CreateJoinTokenResponse gateway = Create("gateway");
  ASSERT_LT(host.id(), gateway.id());

  auto table = env_->Spctl({"tokens", "ls"});
  ASSERT_TRUE(table.ok()) << table.Describe();
  EXPECT_TRUE(absl::StrContains(table.out, "ID")) << table.out;
  EXPECT_TRUE(std::regex_search(
      table.out,
      std::regex(absl::StrCat("\n", host.id(),
                              R"(\s+host\s+active\s+\d{4}-\d\d-\d\d )"
                              R"(\d\d:\d\d:\d\d\s+)",
                              env_->admin(), R"(\s)"))))
      << table.out;
  EXPECT_TRUE(std::regex_search(
      table.out,
      std::regex(absl::StrCat("\n", gateway.id(), R"(\s+gateway\s+active\s)"))))
      << table.out;
  auto yaml = env_->Spctl({"tokens", "ls", "--output", "yaml"});
  ASSERT_TRUE(yaml.ok()) << yaml.Describe();
  EXPECT_TRUE(absl::StrContains(yaml.out, "state: \"active\"")) << yaml.out;
  auto json = env_->Spctl({"tokens", "ls", "--output", "json"});
  ASSERT_TRUE(json.ok()) << json.Describe();
  EXPECT_TRUE(IsJson(json.out)) << json.out;
  for (const auto* t : {&host, &gateway}) {
    for (const std::string& out : {table.out, yaml.out, json.out}) {
      EXPECT_FALSE(absl::StrContains(out, t->token())) << out;
      EXPECT_FALSE(absl::StrContains(out, t->token_hash())) << out;
    }
  }
  // Nor in the revoke answer.
  auto revoke = env_->Spctl(
      {"tokens", "revoke", std::to_string(host.id()), "--output", "json"});
  ASSERT_TRUE(revoke.ok()) << revoke.Describe();
  EXPECT_TRUE(absl::StrContains(revoke.out, "\"revoked\"")) << revoke.out;
  EXPECT_FALSE(absl::StrContains(revoke.out, host.token_hash())) << revoke.out;
}

TEST_F(SpctlTokensTest, ARevokedTokenEnrolsNoHostAndNoGateway) {
  const pb::CreateJoinTokenResponse revoked_host = Create("host");
  const pb::CreateJoinTokenResponse good_host = Create("host");
  const pb::CreateJoinTokenResponse revoked_gateway = Create("gateway");
  const pb::CreateJoinTokenResponse good_gateway = Create("gateway");

  for (const auto* t : {&revoked_host, &revoked_gateway}) {
    auto r = env_->Spctl({"tokens", "revoke", std::to_string(t->id())});
    ASSERT_TRUE(r.ok()) << r.Describe();
    EXPECT_EQ(r.out,
              absl::StrCat("Revoked join token ", t->id(), " (",
                           t == &revoked_host ? "host" : "gateway", ")\n"));
  }

  // Host enrolment: the revoked token is refused, the other one works.
  grpc::Status refused = EnrolHost("web01", revoked_host.token());
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "revoked"))
      << refused.error_message();
  grpc::Status enrolled = EnrolHost("web02", good_host.token());
  EXPECT_TRUE(enrolled.ok()) << enrolled.error_message();
  EXPECT_EQ(env_->Spctl({"hosts", "show", "web01"}).exit_code, 3);
  EXPECT_TRUE(env_->Spctl({"hosts", "show", "web02"}).ok());

  // Gateway enrolment likewise.
  auto gw_refused = env_->EnrollGateway(revoked_gateway.token(), "gw-revoked");
  EXPECT_EQ(gw_refused.status().code(), absl::StatusCode::kUnauthenticated)
      << gw_refused.status();
  auto gw = env_->EnrollGateway(good_gateway.token(), "gw-good");
  ASSERT_TRUE(gw.ok()) << gw.status();

  pb::ListJoinTokensResponse all = ListJson({});
  EXPECT_EQ(StateOf(all, revoked_host.id()), "revoked");
  EXPECT_EQ(StateOf(all, good_host.id()), "used");
  EXPECT_EQ(StateOf(all, revoked_gateway.id()), "revoked");
  EXPECT_EQ(StateOf(all, good_gateway.id()), "used");
  for (const pb::JoinToken& t : all.tokens()) {
    EXPECT_EQ(t.has_revoked_at(), t.state() == "revoked") << t.id();
    EXPECT_EQ(t.has_used_at(), t.state() == "used") << t.id();
  }
  const pb::CreateJoinTokenResponse unused = Create("host");
  pb::ListJoinTokensResponse active = ListJson({"--active"});
  ASSERT_EQ(active.tokens_size(), 1) << active.DebugString();
  EXPECT_EQ(active.tokens(0).id(), unused.id());

  // Revoking again, a used token, an unknown id, not a number.
  auto again =
      env_->Spctl({"tokens", "revoke", std::to_string(revoked_host.id())});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_TRUE(absl::StrContains(again.err, "already revoked") ||
              absl::StrContains(again.err, "was revoked"))
      << again.err;
  auto used = env_->Spctl({"tokens", "revoke", std::to_string(good_host.id())});
  EXPECT_EQ(used.exit_code, 1) << used.Describe();
  EXPECT_TRUE(absl::StrContains(used.err, "already used")) << used.err;
  EXPECT_EQ(env_->Spctl({"tokens", "revoke", "99999"}).exit_code, 3);
  EXPECT_EQ(env_->Spctl({"tokens", "revoke", "first"}).exit_code, 2);

  // A gateway identity is refused by the token RPCs (admin users only).
  auto admin = pb::Admin::NewStub(*gw);
  for (int call = 0; call < 2; ++call) {
    grpc::ClientContext ctx;
    grpc::Status st;
    if (call == 0) {
      pb::ListJoinTokensResponse resp;
      st = admin->ListJoinTokens(&ctx, pb::ListJoinTokensRequest(), &resp);
    } else {
      pb::RevokeJoinTokenRequest req;
      req.set_id(unused.id());
      pb::JoinToken resp;
      st = admin->RevokeJoinToken(&ctx, req, &resp);
    }
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << call << ": " << st.error_message();
  }
  EXPECT_EQ(StateOf(ListJson({}), unused.id()), "active");
}

}  // namespace
}  // namespace sallyport::e2e
