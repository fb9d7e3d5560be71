// The fixture of the admin API tests: an in-process CA (real gRPC/TLS, a
// real SQLite store) and its first admin, logged in, with an Admin stub.
#ifndef SALLYPORT_CA_ADMIN_API_FIXTURE_H_
#define SALLYPORT_CA_ADMIN_API_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "ca/ca_test_env.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"

namespace sallyport::ca {

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env = CaTestEnv::CreateOrNull();
    ASSERT_NE(env, nullptr);
    admin = env->Login("admin", env->admin_password());
    ASSERT_TRUE(admin.status.ok()) << admin.status.error_message();
    stub = admin::v1::Admin::NewStub(admin.channel);
  }

  std::unique_ptr<CaTestEnv> env;
  CaTestEnv::LoginResult admin;
  std::unique_ptr<admin::v1::Admin::Stub> stub;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_ADMIN_API_FIXTURE_H_
