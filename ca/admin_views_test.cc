// What the admin API shows beyond the stored records, found missing by
// hand in spctl's JSON/YAML: a user's roles, where failed logins locked
// them out (the locks are per source and in memory, ca/login.h), and
// whether a certificate is revoked. Real gRPC/TLS against an in-process CA.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "ca/ca_test_env.h"
#include "ca/service_util.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/cert/certificate.h"

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
    EXPECT_EQ(
        std::vector<std::string>(frank.roles().begin(), frank.roles().end()),
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
    EXPECT_EQ(env->Login("frank", "wrong", "", "127.0.0.2").status.error_code(),
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

TEST_F(AdminViewsTest, CertificatesShowTheirRevocation) {
  ASSERT_TRUE(env->AddRole("web", {"www"}).ok());
  ASSERT_TRUE(env->AddUser("frank", "frank-password", {"web"}).ok());
  std::vector<ssh::cert::Certificate> certs;
  for (int i = 0; i < 3; ++i) {
    auto login = env->Login("frank", "frank-password");
    ASSERT_TRUE(login.status.ok()) << login.status.error_message();
    auto cert =
        ssh::cert::Certificate::FromLine(login.response.ssh_certificate());
    ASSERT_TRUE(cert.ok()) << cert.status();
    certs.push_back(*cert);
  }
  const auto revoke = [&](pb::RevokeRequest req) {
    grpc::ClientContext ctx;
    pb::RevokedEntry out;
    grpc::Status st = stub->Revoke(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
  };
  // The first by serial, the second by its key, the third not at all.
  pb::RevokeRequest by_serial;
  by_serial.set_serial(certs[0].serial);
  by_serial.set_reason("laptop stolen");
  revoke(by_serial);
  env->clock().Advance(absl::Seconds(1));
  pb::RevokeRequest by_key;
  by_key.set_key_fingerprint(certs[1].KeyFingerprint());
  by_key.set_reason("key leaked");
  revoke(by_key);

  pb::ListCertificatesRequest req;
  req.set_user("frank");
  pb::ListCertificatesResponse listed;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->ListCertificates(&ctx, req, &listed).ok());
  ASSERT_EQ(listed.certificates_size(), 3) << listed.DebugString();
  const pb::IssuedCertificate& first = listed.certificates(0);
  ASSERT_EQ(first.serial(), certs[0].serial);
  EXPECT_TRUE(first.revoked());
  EXPECT_EQ(first.revocation().serial(), certs[0].serial);
  EXPECT_EQ(first.revocation().reason(), "laptop stolen");
  EXPECT_EQ(first.revocation().revoked_by(), "admin");
  EXPECT_TRUE(first.revocation().has_revoked_at());
  const pb::IssuedCertificate& second = listed.certificates(1);
  EXPECT_TRUE(second.revoked());
  EXPECT_EQ(second.revocation().key_fingerprint(), certs[1].KeyFingerprint());
  EXPECT_EQ(second.revocation().reason(), "key leaked");
  EXPECT_FALSE(listed.certificates(2).revoked());
  EXPECT_FALSE(listed.certificates(2).has_revocation());

  // Revoked twice (its key too, later): the first revocation is shown.
  pb::RevokeRequest later;
  later.set_key_fingerprint(certs[0].KeyFingerprint());
  later.set_reason("later");
  revoke(later);
  grpc::ClientContext again;
  ASSERT_TRUE(stub->ListCertificates(&again, req, &listed).ok());
  EXPECT_EQ(listed.certificates(0).revocation().reason(), "laptop stolen");
}

}  // namespace
}  // namespace sallyport::ca
