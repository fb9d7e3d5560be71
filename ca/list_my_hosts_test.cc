// ListMyHosts over real gRPC/TLS against an in-process CA: the hosts the
// caller's roles select with the logins RBAC allows there, a deny rule
// hiding a host (and one login), the gateway addresses from the config,
// the refusals (no client certificate, a gateway identity), and the
// kMaxListedHosts limit of ReachableHosts.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/ca_service.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"

namespace sallyport::ca {
namespace {

using storage::ChannelKind;

storage::Host MakeHost(const std::string& name, const std::string& env,
                       uint16_t port = 22) {
  storage::Host h;
  h.name = name;
  h.address = "127.0.0.1";
  h.port = port;
  h.labels = {{"env", env}};
  return h;
}

class ListMyHostsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaTestEnv::Options options;
    options.gateway_ssh_addresses = {"gw.example.com", "127.0.0.1:2200"};
    auto env = CaTestEnv::Create(options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    for (const storage::Host& h :
         {MakeHost("web01", "prod", 2201), MakeHost("web02", "prod"),
          MakeHost("db01", "dev")}) {
      ASSERT_TRUE(env_->store().CreateHost(h).ok());
    }
  }

  // A role selecting env=prod as logins `logins`, with `deny` rules.
  void AddProdRole(const std::string& name,
                   const std::vector<std::string>& logins,
                   const std::vector<storage::DenyRule>& deny = {}) {
    storage::Role role;
    role.name = name;
    role.logins = logins;
    role.hosts = {storage::HostSelector{{{"env", "prod"}}, {}}};
    role.channels = {ChannelKind::kShell, ChannelKind::kExec};
    role.deny = deny;
    ASSERT_TRUE(env_->store().CreateRole(role).ok());
  }

  grpc::Status List(const std::string& user, v1::ListMyHostsResponse* out) {
    auto login = env_->Login(user, "pw-of-" + user);
    if (!login.status.ok()) return login.status;
    auto stub = v1::CertificateAuthority::NewStub(login.channel);
    grpc::ClientContext ctx;
    return stub->ListMyHosts(&ctx, v1::ListMyHostsRequest(), out);
  }

  static std::vector<std::string> Names(const v1::ListMyHostsResponse& r) {
    std::vector<std::string> names;
    for (const auto& h : r.hosts()) names.push_back(h.name());
    return names;
  }

  std::unique_ptr<CaTestEnv> env_;
};

TEST_F(ListMyHostsTest, ListsTheSelectedHostsWithLoginsAndTheGateways) {
  AddProdRole("prod", {"root", "deploy"});
  ASSERT_TRUE(env_->AddUser("alice", "pw-of-alice", {"prod"}).ok());
  v1::ListMyHostsResponse r;
  grpc::Status st = List("alice", &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // db01 (env=dev) is not selected.
  ASSERT_EQ(Names(r), (std::vector<std::string>{"web01", "web02"}));
  const v1::MyHost& web01 = r.hosts(0);
  EXPECT_EQ(web01.address(), "127.0.0.1");
  EXPECT_EQ(web01.port(), 2201u);
  EXPECT_EQ(web01.labels().at("env"), "prod");
  EXPECT_EQ(
      std::vector<std::string>(web01.logins().begin(), web01.logins().end()),
      (std::vector<std::string>{"deploy", "root"}));
  EXPECT_EQ(r.hosts(1).port(), 22u);
  ASSERT_EQ(r.gateways_size(), 2);
  EXPECT_EQ(r.gateways(0).host(), "gw.example.com");
  EXPECT_EQ(r.gateways(0).port(), 2222u);  // the default gateway port
  EXPECT_EQ(r.gateways(1).host(), "127.0.0.1");
  EXPECT_EQ(r.gateways(1).port(), 2200u);
}

TEST_F(ListMyHostsTest, ADenyRuleHidesAHostAndALogin) {
  // Without the rule both hosts are listed with both logins (so the
  // assertions below fail if the deny rule stops counting).
  AddProdRole("open", {"root", "deploy"});
  storage::DenyRule no_web02;
  no_web02.hosts = {storage::HostSelector{{}, {"web02"}}};
  storage::DenyRule no_root_on_web01;
  no_root_on_web01.logins = {"root"};
  no_root_on_web01.hosts = {storage::HostSelector{{}, {"web01"}}};
  AddProdRole("guarded", {"root", "deploy"}, {no_web02, no_root_on_web01});
  ASSERT_TRUE(env_->AddUser("olga", "pw-of-olga", {"open"}).ok());
  ASSERT_TRUE(env_->AddUser("bob", "pw-of-bob", {"guarded"}).ok());

  v1::ListMyHostsResponse open;
  ASSERT_TRUE(List("olga", &open).ok());
  EXPECT_EQ(Names(open), (std::vector<std::string>{"web01", "web02"}));
  ASSERT_EQ(open.hosts(0).logins_size(), 2);

  v1::ListMyHostsResponse guarded;
  grpc::Status st = List("bob", &guarded);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(Names(guarded), std::vector<std::string>{"web01"});
  ASSERT_EQ(guarded.hosts(0).logins_size(), 1);
  EXPECT_EQ(guarded.hosts(0).logins(0), "deploy");
}

TEST_F(ListMyHostsTest, AUserWithoutHostRolesAndADisabledUserSeeNothing) {
  // The "login" role of init selects no host.
  ASSERT_TRUE(env_->AddRole("nohosts", {"root"}).ok());
  ASSERT_TRUE(env_->AddUser("carl", "pw-of-carl", {"nohosts"}).ok());
  v1::ListMyHostsResponse r;
  ASSERT_TRUE(List("carl", &r).ok());
  EXPECT_EQ(r.hosts_size(), 0);

  AddProdRole("prod", {"root"});
  ASSERT_TRUE(env_->AddUser("dora", "pw-of-dora", {"prod"}).ok());
  auto login = env_->Login("dora", "pw-of-dora");
  ASSERT_TRUE(login.status.ok());
  auto stub = v1::CertificateAuthority::NewStub(login.channel);
  // Disabled after the login: the CA re-checks the user on every call.
  auto user = env_->store().GetUser("dora");
  ASSERT_TRUE(user.ok());
  user->disabled = true;
  ASSERT_TRUE(env_->store().UpdateUser(*user).ok());
  grpc::ClientContext ctx;
  v1::ListMyHostsResponse none;
  grpc::Status st = stub->ListMyHosts(&ctx, {}, &none);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(none.hosts_size(), 0);
}

TEST_F(ListMyHostsTest, NeedsAUsersClientCertificate) {
  auto anonymous = v1::CertificateAuthority::NewStub(env_->AnonymousChannel());
  grpc::ClientContext ctx;
  v1::ListMyHostsResponse r;
  EXPECT_EQ(anonymous->ListMyHosts(&ctx, {}, &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  EnrolledGateway gw = EnrollOrDie(*env_, "gw1");
  ASSERT_TRUE(gw.status.ok());
  auto as_gateway = v1::CertificateAuthority::NewStub(gw.channel);
  grpc::ClientContext ctx2;
  EXPECT_EQ(as_gateway->ListMyHosts(&ctx2, {}, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(ReachableHostsTest, StopsAtTheLimit) {
  storage::User user;
  user.name = "u";
  storage::Role role;
  role.name = "all";
  role.logins = {"root"};
  role.hosts = {storage::HostSelector{}};  // every host
  role.channels = {ChannelKind::kShell};
  std::vector<storage::Host> inventory;
  for (size_t i = 0; i <= kMaxListedHosts; ++i) {
    inventory.push_back(MakeHost(absl::StrCat("h", 100000 + i), "prod"));
  }
  auto hosts = ReachableHosts(user, {role}, inventory);
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(hosts->size(), kMaxListedHosts);
  inventory.pop_back();
  inventory.pop_back();
  hosts = ReachableHosts(user, {role}, inventory);
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(hosts->size(), kMaxListedHosts - 1);
}

}  // namespace
}  // namespace sallyport::ca
