// Helpers for tests of the Gateway service (proto/gateway.proto) against a
// real in-process CA (CaTestEnv): join tokens from the real admin API,
// gateway enrolment with fresh keys, and both store backends.
#ifndef SALLYPORT_CA_GATEWAY_TEST_UTIL_H_
#define SALLYPORT_CA_GATEWAY_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "ca/ca_test_env.h"
#include "gtest/gtest.h"
#include "proto/audit.pb.h"
#include "proto/ca.grpc.pb.h"
#include "proto/gateway.grpc.pb.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/postgres_fixture.h"

namespace sallyport::ca {

enum class Backend { kSqlite, kPostgres };
std::string BackendName(Backend backend);
// gtest's test name suffix for a Backend parameter ("Sqlite", "Postgres").
struct BackendParamName {
  std::string operator()(const ::testing::TestParamInfo<Backend>& info) const {
    return BackendName(info.param);
  }
};
// A Backend-parameterized suite on both backends.
#define SP_INSTANTIATE_ON_BOTH_BACKENDS(suite)                \
  INSTANTIATE_TEST_SUITE_P(                                   \
      Backends, suite,                                        \
      ::testing::Values(::sallyport::ca::Backend::kSqlite,    \
                        ::sallyport::ca::Backend::kPostgres), \
      ::sallyport::ca::BackendParamName())

// A CA on the backend (PostgreSQL: a fresh server kept in *pg).
absl::StatusOr<std::unique_ptr<CaTestEnv>> StartCa(
    Backend backend, std::unique_ptr<testing::PostgresFixture>* pg,
    CaTestEnv::Options options = CaTestEnv::Options());

// The admin's mTLS channel (logs in as the admin that init created).
std::shared_ptr<grpc::Channel> AdminChannel(CaTestEnv& env);

// CreateJoinToken through the admin API; the status and the secret. A
// non-empty `gateway_name` makes a token for that gateway only.
grpc::Status CreateJoinToken(CaTestEnv& env, const std::string& purpose,
                             absl::Duration ttl, std::string* token,
                             const std::string& gateway_name = "");

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
// EnrollGateway with fresh TLS and SSH keys over an anonymous channel;
// with `host_public_key`, that SSH host key (a gateway enrolled again
// with its key; host_key_pem stays empty).
EnrolledGateway Enroll(CaTestEnv& env, const std::string& token,
                       const std::string& name,
                       const std::vector<std::string>& principals = {},
                       const std::string& host_public_key = "");

// A token of kind "gateway" and an enrolment with it; fails the test when
// either fails.
EnrolledGateway EnrollOrDie(CaTestEnv& env, const std::string& name);

// A gateway enrolled before its host certificates were recorded with its
// name (user GatewayCertificateUser), as CAs before that recorded them:
// UnrecordedGatewayChannel is an mTLS channel with an identity for `name`
// from the CA's client CA, recorded nowhere; IssueHostCertificateAsAdmin
// records, through the admin's CertificateAuthority.IssueHostCertificate
// for the inventory host `name` (which must exist), a host certificate on
// `public_key` (authorized_keys line) with an empty user and key id and
// first principal `name`, and returns its line ("" with the test failed
// when refused).
std::shared_ptr<grpc::Channel> UnrecordedGatewayChannel(
    CaTestEnv& env, const std::string& name);
std::string IssueHostCertificateAsAdmin(CaTestEnv& env, const std::string& name,
                                        const std::string& public_key);

// The userauth proof of an IssueSessionCertificateRequest: what the client
// of `who` signs to log in as `user_name` with its certificate (or
// `certificate_line`), signed with its key (or `key`), and the signature
// (empty, with the test failed, when it cannot be made). The session
// identifier is any 32 bytes (the CA cannot check it), new for every
// call: each proof gets one session certificate (finding B), so a test
// that asks again sends a new proof, as a new connection would.
struct UserauthProof {
  std::string signed_data;
  std::string signature;
};
UserauthProof SignedLogin(const CaTestEnv::LoginResult& who,
                          const std::string& user_name,
                          const ssh::crypto::PrivateKey* key = nullptr,
                          std::string certificate_line = "");

// What a gateway writes of a session (issue 14), for the tests of who may
// write it (recording_service_test.cc, session_owner_test.cc):

// A recording's session message: `id`, alice as ubuntu on web01.
audit::v1::RecordingSession RecordingMeta(const std::string& id);
// n chained output records of `size` bytes of `fill`, then a session end
// when `end`.
std::vector<audit::v1::RecordingRecord> RecordingChain(const std::string& id,
                                                       int n, bool end,
                                                       char fill = 'a',
                                                       size_t size = 10);
// One GatewayRecordings.UploadRecording call: the session, then `messages`
// (each a list of records).
grpc::Status UploadRecording(
    const std::shared_ptr<grpc::Channel>& channel,
    const audit::v1::RecordingSession& meta,
    const std::vector<std::vector<audit::v1::RecordingRecord>>& messages,
    gateway::v1::UploadRecordingResponse* response);
// One GatewayEvents.RecordGatewayEvents call: an exec.command event of
// `session` (known to the Store or not) by alice.
grpc::Status SendExecEvent(const std::shared_ptr<grpc::Channel>& channel,
                           const std::string& session,
                           const std::string& command);
// The audit events of `type` whose payload contains every one of `texts`
// (-1 when they cannot be read).
int CountAuditEvents(storage::Store& store, std::string_view type,
                     std::initializer_list<std::string_view> texts);

// The config edit (CaTestEnv::Options::config_edits) that gives each
// gateway a write budget of `rate` bytes a second and `burst` bytes (CA
// config gateway.write_rate_bytes_per_second, gateway.write_burst_bytes).
std::pair<std::string, std::string> GatewayWriteBudgetEdit(uint64_t rate,
                                                           uint64_t burst);

// The config edit that lets each gateway have at most `max` sessions open
// at the CA (CA config gateway.max_open_sessions).
std::pair<std::string, std::string> GatewayMaxOpenSessionsEdit(int64_t max);

// A CA for a test (nullptr, with the test failed, when it cannot start).
std::unique_ptr<CaTestEnv> MakeEnv(CaTestEnv::Options options = {});

// CertificateAuthority.GetCaPublicKeys on `channel`: its status.
absl::StatusOr<grpc::Status> GetCaPublicKeys(
    const std::shared_ptr<grpc::Channel>& channel);

// A revocation on record (serial 4242), which a revocation stream the CA
// takes sends at once.
absl::Status RevokeSerial4242(storage::Store& store);

// CertificateAuthority.WatchRevocations streams a test holds open while it
// tries more (with RevokeSerial4242's revocation on record, which a stream
// the CA takes sends at once); the ones held are cancelled when it goes.
class RevocationStreams {
 public:
  ~RevocationStreams();
  // Opens a stream on `channel` and leaves it open (no deadline); whether
  // the CA took it: it sent a revocation, which must be on record.
  bool HoldTaken(const std::shared_ptr<grpc::Channel>& channel);
  // Opens a stream on `channel`: the CA's refusal, else OK (it delivered
  // a revocation, or held the stream open for a short wait). Only a
  // refusal is certain: with fewer places taken than the test holds (a
  // held stream not at the CA yet), OK says nothing about the limit;
  // HoldTaken and Delivers see a stream taken.
  static grpc::Status Try(const std::shared_ptr<grpc::Channel>& channel);
  // Whether a stream opened on `channel` within `within` was taken by the
  // CA: it sent a revocation, which must be on record. (A call that only
  // waits, as one does now and then while the CA holds many streams, does
  // not count.)
  static bool Delivers(const std::shared_ptr<grpc::Channel>& channel,
                       absl::Duration within);
  // Ends the first stream held.
  void CloseFirst();

 private:
  struct Stream {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::Revocation>> reader;
  };
  static Stream Open(const std::shared_ptr<grpc::Channel>& channel,
                     std::optional<absl::Duration> deadline);
  std::vector<Stream> open_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_GATEWAY_TEST_UTIL_H_
