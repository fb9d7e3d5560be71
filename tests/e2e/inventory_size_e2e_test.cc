// An inventory larger than one gRPC message (a client's 4 MiB,
// base::kMaxCaResponseBytes) against the real CA: the real `spctl hosts
// ls` and `sp ls` list every host, `spctl roles ls` every role (the CA
// answers in pages; before, they failed with
// RESOURCE_EXHAUSTED "Received message larger than max").
// The hosts are added through the admin API, each at the limits of
// ca/admin_convert.h (64 labels of 8 KiB in all, an 8 KiB pinned key line).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/crypto/keys.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {
namespace {

namespace pb = admin::v1;
using sallyport::testing::ReadFileOrEmpty;

// The longest key line an admin may pin (storage::kMaxTextBytes).
constexpr size_t kKeyLineBytes = 8192;

constexpr char kAll[] = R"(name: all
logins: [ops]
hosts: [{}]
channels: [shell]
)";

class InventorySizeE2eTest : public SpctlTestBase {
 protected:
  // `n` hosts host00000.. at the limits, through admin.CreateHost with
  // the admin's client certificate (as spctl would add them, faster).
  // The admin API with the admin's client certificate.
  std::unique_ptr<pb::Admin::Stub> Admin() {
    return pb::Admin::NewStub(
        env_->CaChannel(ReadFileOrEmpty(env_->Home("admin") + "/tls.key"),
                        ReadFileOrEmpty(env_->Home("admin") + "/tls.crt")));
  }

  void AddLargeHosts(int n) {
    auto admin = Admin();
    auto key = ssh::crypto::PrivateKey::GenerateEd25519();
    ASSERT_TRUE(key.ok());
    const std::string line = key->public_key().ToAuthorizedKeysLine();
    pb::Host host;
    host.set_address("10.0.0.1");
    host.set_trust("pinned-key");
    host.set_host_key(line + " " +
                      std::string(kKeyLineBytes - line.size() - 1, 'c'));
    for (int l = 0; l < 64; ++l) {
      (*host.mutable_labels())[absl::StrFormat("label%02d", l)] =
          std::string(121, 'v');
    }
    for (int i = 0; i < n; ++i) {
      host.set_name(absl::StrFormat("host%05d", i));
      grpc::ClientContext ctx;
      pb::Host out;
      const grpc::Status st = admin->CreateHost(&ctx, host, &out);
      ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
    }
  }

  // The first column of a table's rows (its header left out).
  static std::vector<std::string> Names(const std::string& table) {
    std::vector<std::string> names;
    for (absl::string_view row :
         absl::StrSplit(table, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> cols =
          absl::StrSplit(row, ' ', absl::SkipEmpty());
      if (!cols.empty() && cols[0] != "NAME") names.emplace_back(cols[0]);
    }
    return names;
  }

  static std::vector<std::string> Want(int n) {
    std::vector<std::string> want;
    for (int i = 0; i < n; ++i) want.push_back(absl::StrFormat("host%05d", i));
    return want;
  }
};

// 300 hosts are ~5 MB in `spctl hosts ls`: every one is listed, once, by
// name, in the table and in the JSON answer.
TEST_F(InventorySizeE2eTest, SpctlHostsLsListsMoreThanOneMessageHolds) {
  constexpr int kHosts = 300;
  AddLargeHosts(kHosts);
  auto ls = env_->Spctl({"hosts", "ls"});
  ASSERT_TRUE(ls.ok()) << ls.Describe().substr(0, 2000);
  EXPECT_EQ(Names(ls.out), Want(kHosts));
  auto json = env_->Spctl({"--output", "json", "hosts", "ls"});
  ASSERT_TRUE(json.ok()) << json.Describe().substr(0, 2000);
  EXPECT_GT(json.out.size(), 4u << 20);
  EXPECT_TRUE(IsJson(json.out));
  int listed = 0;
  for (size_t at = 0; (at = json.out.find("\"host0", at)) != std::string::npos;
       ++at) {
    ++listed;
  }
  EXPECT_EQ(listed, kHosts);
}

// 500 hosts a user's role selects are ~4.5 MB of ListMyHosts (labels, no
// key): `sp ls` lists every one.
TEST_F(InventorySizeE2eTest, SpLsListsMoreThanOneMessageHolds) {
  constexpr int kHosts = 500;
  AddLargeHosts(kHosts);
  auto role =
      env_->Spctl({"roles", "create", "-f", env_->WriteFile("all.yaml", kAll)});
  ASSERT_TRUE(role.ok()) << role.Describe();
  AddUser("erin", "all");
  auto login = env_->Login("erin", kPassword);
  ASSERT_TRUE(login.ok()) << login.Describe();
  auto ls = env_->Sp("erin", {"ls"});
  ASSERT_TRUE(ls.ok()) << ls.Describe().substr(0, 2000);
  EXPECT_EQ(Names(ls.out), Want(kHosts));
  auto json = env_->Sp("erin", {"ls", "--output", "json"});
  ASSERT_TRUE(json.ok()) << json.Describe().substr(0, 2000);
  EXPECT_GT(json.out.size(), 4u << 20);
  EXPECT_TRUE(IsJson(json.out));
}

// 6 roles of ~870 KiB (100 selectors at the label limits) are more than
// 4 MiB: `spctl roles ls` lists every one. (Users are paged the same way;
// with the admin API's 256-byte display names, 4 MiB of users are ~7000,
// too many to add here: //ca:inventory_limits_test stores them.)
TEST_F(InventorySizeE2eTest, SpctlRolesLsListsMoreThanOneMessageHolds) {
  auto admin = Admin();
  // Those `init` made, and ours.
  std::vector<std::string> roles = Names(env_->Spctl({"roles", "ls"}).out);
  ASSERT_FALSE(roles.empty());
  for (int i = 0; i < 6; ++i) {
    pb::Role role;
    role.set_name(absl::StrFormat("role%d", i));
    for (int s = 0; s < 100; ++s) {
      auto* labels = role.add_hosts()->mutable_labels();
      for (int l = 0; l < 64; ++l) {
        (*labels)[absl::StrFormat("label%02d", l)] = std::string(121, 'v');
      }
    }
    grpc::ClientContext ctx;
    pb::Role out;
    const grpc::Status st = admin->CreateRole(&ctx, role, &out);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
    roles.push_back(out.name());
  }
  auto json = env_->Spctl({"--output", "json", "roles", "ls"});
  ASSERT_TRUE(json.ok()) << json.Describe().substr(0, 2000);
  EXPECT_GT(json.out.size(), 4u << 20);
  EXPECT_TRUE(IsJson(json.out));
  auto table = env_->Spctl({"roles", "ls"});
  ASSERT_TRUE(table.ok()) << table.Describe().substr(0, 2000);
  std::sort(roles.begin(), roles.end());
  EXPECT_EQ(Names(table.out), roles);
}

}  // namespace
}  // namespace sallyport::e2e
