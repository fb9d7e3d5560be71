// The fixture of the CA's enrolment tests (gateway_enroll_test.cc: gateway
// enrolment and join tokens; gateway_identity_test.cc: the gateway's mTLS
// identity renewed and which identity may call what; host_enroll_test.cc:
// host enrolment and host certificates): a CA on SQLite or a real
// PostgreSQL server, join tokens from the admin API, host enrolment over an
// anonymous channel, and the audit events recorded.
#ifndef SALLYPORT_CA_ENROLL_TEST_FIXTURE_H_
#define SALLYPORT_CA_ENROLL_TEST_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/postgres_fixture.h"

namespace sallyport::ca {

class EnrollTest : public ::testing::TestWithParam<Backend> {
 protected:
  // The CA's options (a derived suite edits the config).
  virtual CaTestEnv::Options CaOptions() { return {}; }
  void SetUp() override {
    auto env = StartCa(GetParam(), &pg_, CaOptions());
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
  }
  // A join token; of kind "gateway" for `gateway_name` only when given.
  std::string Token(const std::string& purpose,
                    absl::Duration ttl = absl::Hours(1),
                    const std::string& gateway_name = "") {
    std::string token;
    grpc::Status st =
        CreateJoinToken(*env_, purpose, ttl, &token, gateway_name);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return token;
  }
  // IssueHostCertificate for `host` with a fresh key and `token`, over an
  // anonymous channel.
  grpc::Status EnrollHost(const std::string& host, const std::string& address,
                          const std::string& token,
                          v1::IssueHostCertificateResponse* response) {
    auto key = ssh::crypto::PrivateKey::GenerateEd25519();
    if (!key.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "keygen");
    v1::IssueHostCertificateRequest request;
    request.set_host(host);
    request.set_address(address);
    request.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
    request.set_join_token(token);
    grpc::ClientContext ctx;
    return v1::CertificateAuthority::NewStub(env_->AnonymousChannel())
        ->IssueHostCertificate(&ctx, request, response);
  }
  int CountEvents(std::string_view type) {
    auto all = env_->store().ListAuditEvents(0, 10000);
    EXPECT_TRUE(all.ok());
    int n = 0;
    for (const auto& e : *all) n += e.type == type;
    return n;
  }
  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<CaTestEnv> env_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_ENROLL_TEST_FIXTURE_H_
