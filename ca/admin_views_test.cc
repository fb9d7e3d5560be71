// What the admin API shows beyond the stored records, found missing by
// hand in spctl's JSON/YAML: a user's roles and where failed logins locked
// them out (the locks are per source and in memory, ca/login.h). Real
// gRPC/TLS against an in-process CA.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "ca/ca_test_env.h"
#include "ca/service_util.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace pb = admin::v1;

// A CA (3 failures lock a pair for 15 minutes) and its first admin,
// logged in, with an Admin stub.
class AdminViewsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaTestEnv::Options options;
    options.lockout = {.max_failures = 3, .lockout = absl::Minutes(15)};
    auto created = CaTestEnv::Create(options);
    ASSERT_TRUE(created.ok()) << created.status();
    env = std::move(*created);
    admin = env->Login("admin", env->admin_password());
    ASSERT_TRUE(admin.status.ok()) << admin.status.error_message();
    stub = pb::Admin::NewStub(admin.channel);
  }

  pb::User GetUser(const std::string& name) {
    grpc::ClientContext ctx;
    pb::GetUserRequest req;
    req.set_name(name);
    pb::User user;
    grpc::Status st = stub->GetUser(&ctx, req, &user);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return user;
  }
  pb::User Listed(const std::string& name) {
    grpc::ClientContext ctx;
    pb::ListUsersResponse all;
    grpc::Status st = stub->ListUsers(&ctx, {}, &all);
    EXPECT_TRUE(st.ok()) << st.error_message();
    for (const pb::User& u : all.users()) {
      if (u.name() == name) return u;
    }
    ADD_FAILURE() << name << " is not listed";
    return {};
  }

  std::unique_ptr<CaTestEnv> env;
  CaTestEnv::LoginResult admin;
  std::unique_ptr<pb::Admin::Stub> stub;
};

TEST_F(AdminViewsTest, UsersShowTheirRoles) {
  ASSERT_TRUE(env->AddRole("web", {"www"}).ok());
  ASSERT_TRUE(env->AddRole("db", {"pg"}).ok());
  ASSERT_TRUE(env->AddUser("frank", "frank-password", {"web", "db"}).ok());
  ASSERT_TRUE(env->AddUser("gina", "gina-password", {}).ok());
  for (const pb::User& frank : {GetUser("frank"), Listed("frank")}) {
    EXPECT_EQ(std::vector<std::string>(frank.roles().begin(),
                                       frank.roles().end()),
              (std::vector<std::string>{"db", "web"}))
        << frank.DebugString();
  }
  EXPECT_EQ(GetUser("gina").roles_size(), 0);
  EXPECT_EQ(Listed("gina").roles_size(), 0);
  // Each user's own bindings.
  const pb::User listed_admin = Listed("admin");
  ASSERT_FALSE(listed_admin.roles().empty());
  EXPECT_EQ(listed_admin.roles(0), "admin") << listed_admin.DebugString();
  // What UpdateUser answers shows them too.
  pb::User frank = GetUser("frank");
  frank.set_display_name("Frank");
  grpc::ClientContext ctx;
  pb::User updated;
  ASSERT_TRUE(stub->UpdateUser(&ctx, frank, &updated).ok());
  EXPECT_EQ(updated.roles_size(), 2) << updated.DebugString();
}

TEST_F(AdminViewsTest, UsersShowWhereTheyAreLockedOutUntilUnlocked) {
  ASSERT_TRUE(env->AddRole("web", {"www"}).ok());
  ASSERT_TRUE(env->AddUser("frank", "frank-password", {"web"}).ok());
  pb::User frank = GetUser("frank");
  EXPECT_EQ(frank.lockouts_size(), 0);
  EXPECT_FALSE(frank.has_locked_until());

  const absl::Time locked_at = env->clock().Now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        env->Login("frank", "wrong", "", "127.0.0.2").status.error_code(),
        StatusCode::UNAUTHENTICATED);
    // A name that does not exist locks the same way; it is no user.
    env->Login("ghost", "wrong", "", "127.0.0.2");
  }
  for (const pb::User& u : {GetUser("frank"), Listed("frank")}) {
    ASSERT_EQ(u.lockouts_size(), 1) << u.DebugString();
    EXPECT_EQ(u.lockouts(0).source(), "127.0.0.2");
    // (Timestamps are kept in microseconds.)
    EXPECT_LT(absl::AbsDuration(FromTimestamp(u.lockouts(0).locked_until()) -
                                (locked_at + absl::Minutes(15))),
              absl::Microseconds(1));
    EXPECT_EQ(u.locked_until().SerializeAsString(),
              u.lockouts(0).locked_until().SerializeAsString());
    EXPECT_EQ(u.failed_attempts(), 3);
  }
  EXPECT_EQ(Listed("admin").lockouts_size(), 0);

  // Unlocked: no lockout is shown, and frank gets in from there.
  env->clock().Advance(absl::Seconds(1));
  {
    grpc::ClientContext ctx;
    pb::UnlockUserRequest req;
    req.set_user("frank");
    google::protobuf::Empty none;
    ASSERT_TRUE(stub->UnlockUser(&ctx, req, &none).ok());
  }
  frank = GetUser("frank");
  EXPECT_EQ(frank.lockouts_size(), 0) << frank.DebugString();
  EXPECT_FALSE(frank.has_locked_until());
  EXPECT_TRUE(
      env->Login("frank", "frank-password", "", "127.0.0.2").status.ok());

  // A lock that runs out is not shown either.
  for (int i = 0; i < 3; ++i) env->Login("frank", "wrong", "", "127.0.0.3");
  ASSERT_EQ(GetUser("frank").lockouts_size(), 1);
  env->clock().Advance(absl::Minutes(15));
  EXPECT_EQ(GetUser("frank").lockouts_size(), 0);
}

}  // namespace
}  // namespace sallyport::ca
