// Helpers for tests of the Gateway service (proto/gateway.proto) against a
// real in-process CA (CaTestEnv): join tokens from the real admin API,
// gateway enrolment with fresh keys, and both store backends.
#ifndef SALLYPORT_CA_GATEWAY_TEST_UTIL_H_
#define SALLYPORT_CA_GATEWAY_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ca/ca_test_env.h"
#include "proto/gateway.grpc.pb.h"
#include "tests/harness/postgres_fixture.h"

namespace sallyport::ca {

enum class Backend { kSqlite, kPostgres };
std::string BackendName(Backend backend);

// A CA on the backend (PostgreSQL: a fresh server kept in *pg).
absl::StatusOr<std::unique_ptr<CaTestEnv>> StartCa(
    Backend backend, std::unique_ptr<testing::PostgresFixture>* pg,
    CaTestEnv::Options options = CaTestEnv::Options());

// The admin's mTLS channel (logs in as the admin that init created).
std::shared_ptr<grpc::Channel> AdminChannel(CaTestEnv& env);

// CreateJoinToken through the admin API; the status and the secret.
grpc::Status CreateJoinToken(CaTestEnv& env, const std::string& purpose,
                             absl::Duration ttl, std::string* token);

struct EnrolledGateway {
  grpc::Status status;
  gateway::v1::EnrollGatewayResponse response;
  std::string tls_key_pem;
  // The gateway's SSH host key (private, OpenSSH format) and public line.
  std::string host_key_pem;
  std::string host_public_key;
  // An mTLS channel with the gateway's client certificate (when enrolled).
  std::shared_ptr<grpc::Channel> channel;
};
// EnrollGateway with fresh TLS and SSH keys over an anonymous channel.
EnrolledGateway Enroll(CaTestEnv& env, const std::string& token,
                       const std::string& name,
                       const std::vector<std::string>& principals = {});

// A token of kind "gateway" and an enrolment with it; fails the test when
// either fails.
EnrolledGateway EnrollOrDie(CaTestEnv& env, const std::string& name);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_GATEWAY_TEST_UTIL_H_
