// The fixture of `sallyport-gateway enroll`'s tests against a real CA (the
// in-process CaTestEnv over real TLS on loopback): enroll_test.cc (the
// files, the host certificate, each refusal, the command) and
// enroll_identity_test.cc (renewing the identity, keys their certificates
// are not for, the CA channel). Join tokens from the real admin API, the
// options of an enrolment of gw1 into a temporary directory, and a real
// RPC with the identity enrolled.
#ifndef SALLYPORT_GATEWAY_ENROLL_TEST_FIXTURE_H_
#define SALLYPORT_GATEWAY_ENROLL_TEST_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "gateway/config.h"
#include "gateway/enroll.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {

// The permission bits of `path` (-1 when it cannot be stat'ed).
inline int Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// Whether a temporary file of base::WriteFileAtomic for `path`
// (PATH.tmp.XXXXXX) is left beside it.
inline bool TemporaryLeft(const std::string& path) {
  const std::filesystem::path p(path);
  for (const auto& entry :
       std::filesystem::directory_iterator(p.parent_path())) {
    if (absl::StartsWith(entry.path().filename().string(),
                         p.filename().string() + ".tmp")) {
      return true;
    }
  }
  return false;
}

class EnrollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ca::CaTestEnv::Create();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    auto dir = testing::TempDir::Create("gwenroll");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
  }

  // A gateway join token; for `gateway_name` only when given.
  std::string Token(const std::string& gateway_name = "") {
    std::string token;
    grpc::Status st = ca::CreateJoinToken(*env_, "gateway", absl::Hours(1),
                                          &token, gateway_name);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return token;
  }

  EnrollOptions Options(const std::string& token, const std::string& sub) {
    EnrollOptions o;
    o.ca = env_->server().address();
    o.ca_fingerprint = env_->init().tls_fingerprint;
    o.token = token;
    o.state_dir = dir_->File(sub);
    o.name = "gw1";
    o.principals = {"gw1.example.com", "127.0.0.1"};
    o.timeout = absl::Seconds(20);
    return o;
  }

  // GetCaPublicKeys with the gateway's identity from its config.
  grpc::Status CallWithIdentity(const std::string& config_path) {
    absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(config_path);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "config");
    auto channel = OpenCaChannel(*s);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "ch");
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    ca::v1::CaPublicKeys keys;
    return ca::v1::CertificateAuthority::NewStub(*channel)->GetCaPublicKeys(
        &ctx, ca::v1::GetCaPublicKeysRequest(), &keys);
  }

  std::unique_ptr<ca::CaTestEnv> env_;
  std::unique_ptr<testing::TempDir> dir_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_ENROLL_TEST_FIXTURE_H_
