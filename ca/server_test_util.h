// Helpers of the tests of an in-process CA over real gRPC/TLS
// (server_admin_test.cc, server_admin_auth_test.cc, issuance_test.cc): a
// ListUsers call, the audit events of a type in the CA's store, and a CA
// with the admin and a plain user logged in.
#ifndef SALLYPORT_CA_SERVER_TEST_UTIL_H_
#define SALLYPORT_CA_SERVER_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/ca_test_env.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "storage/store.h"

namespace sallyport::ca {

// Admin.ListUsers on `channel` with a 20 s deadline; the users in `out`
// when given.
inline grpc::Status ListUsers(std::shared_ptr<grpc::Channel> channel,
                              admin::v1::ListUsersResponse* out = nullptr) {
  admin::v1::ListUsersResponse ignored;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  return admin::v1::Admin::NewStub(channel)->ListUsers(&ctx, {},
                                                       out ? out : &ignored);
}

// The audit events of `type` in env's store, oldest first.
inline std::vector<storage::AuditEvent> Events(CaTestEnv& env,
                                               std::string_view type) {
  std::vector<storage::AuditEvent> out;
  auto all = env.store().ListAuditEvents(0, 10000);
  EXPECT_TRUE(all.ok());
  for (auto& e : *all) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

// A CA (CaTestEnv) with its admin and bob, a user with the login role only
// (password "bob-pw"), both logged in (a client certificate each).
struct AdminAndBob {
  std::unique_ptr<CaTestEnv> env;
  CaTestEnv::LoginResult admin;
  CaTestEnv::LoginResult bob;
  // The CA started, bob was added and both logins worked.
  bool ok() const {
    return env != nullptr && admin.status.ok() && bob.status.ok();
  }
};

inline AdminAndBob StartWithAdminAndBob() {
  AdminAndBob out;
  out.env = CaTestEnv::CreateOrNull();
  if (out.env == nullptr) return out;
  absl::Status added = out.env->AddUser("bob", "bob-pw", {"login"});
  EXPECT_TRUE(added.ok()) << added;
  if (!added.ok()) return out;
  out.admin = out.env->Login("admin", out.env->admin_password());
  out.bob = out.env->Login("bob", "bob-pw");
  EXPECT_TRUE(out.admin.status.ok()) << out.admin.status.error_message();
  EXPECT_TRUE(out.bob.status.ok()) << out.bob.status.error_message();
  return out;
}

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_SERVER_TEST_UTIL_H_
