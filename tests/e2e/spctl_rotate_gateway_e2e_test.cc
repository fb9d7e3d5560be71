// `spctl ca rotate` against the real gateway (issue 15 "Done when": an old
// certificate is still accepted by the gateway's trust bundle until it
// expires). A whole deployment (BastionFixture: real CA, real
// sallyport-gateway, real sshd targets): after the rotation a certificate
// signed by the retired user CA key still opens a recorded session through
// the running gateway, a new login is signed by the new key, and a gateway
// that fetched the CA keys after the rotation takes both.
#include <libgen.h>

#include <filesystem>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

std::string SigningCa(const std::string& certificate) {
  auto r = RunCommandOk({"ssh-keygen", "-L", "-f", certificate});
  std::smatch m;
  if (!r.ok() ||
      !std::regex_search(r->out, m,
                         std::regex(R"(Signing CA: \S+ (SHA256:\S+))"))) {
    return "";
  }
  return m[1].str();
}

class RotateThroughGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = std::move(*f);
    absl::Status st = fixture_->StartGateway(Gateway());
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  void TearDown() override {
    if (HasFailure() && fixture_ != nullptr) {
      std::fprintf(stderr, "--- gateway ---\n%s\n--- CA ---\n%s\n",
                   fixture_->GatewayLog().c_str(), fixture_->CaLog().c_str());
    }
    if (fixture_ != nullptr) fixture_->StopGateway();
  }
  static std::string Gateway() {
    return RunfilePath("gateway/sallyport-gateway");
  }
  // `ssh -F <user's config> -l LOGIN+web01 gateway echo MARK` prints MARK.
  bool RecordedExecWorks(const std::string& user, const std::string& mark) {
    auto args = fixture_->SshArgs(user);
    if (!args.ok()) return false;
    args->insert(args->end(),
                 {"-l", absl::StrCat(fixture_->target_login(), "+web01"),
                  "gateway", absl::StrCat("echo ", mark)});
    auto r = RunCommand(*args);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return false;
    if (r->exit_code != 0 || r->out != mark + "\n") {
      std::fprintf(stderr, "%s as %s: %s\n", mark.c_str(), user.c_str(),
                   r->Describe().c_str());
      return false;
    }
    return true;
  }
  std::string Certificate(const std::string& user) {
    auto u = fixture_->user(user);
    return u.ok() ? (*u)->certificate : "";
  }

  std::unique_ptr<BastionFixture> fixture_;
};

TEST_F(RotateThroughGatewayTest, ARetiredKeysCertificateStillLogsInThrough) {
  // alice keeps her certificate from before the rotation; olivia logs in
  // again after it.
  const std::string old_key = SigningCa(Certificate("alice"));
  ASSERT_FALSE(old_key.empty());
  ASSERT_EQ(SigningCa(Certificate("olivia")), old_key);
  ASSERT_TRUE(RecordedExecWorks("alice", "before-rotation"));

  // The real `spctl ca rotate`, as the admin `sp login` left it.
  auto admin = fixture_->user("admin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  RunOptions ro;
  ro.env["SALLYPORT_HOME"] = (*admin)->home;
  auto rotate = RunCommand({RunfilePath("cli/spctl"), "ca", "rotate"}, ro);
  ASSERT_TRUE(rotate.ok() && rotate->ok())
      << (rotate.ok() ? rotate->Describe() : rotate.status().ToString());

  // The targets trust the new key beside the old one (the bundle an
  // operator ships; the gateway's session certificates are signed by the
  // active key). Its file is next to client_known_hosts().
  admin::v1::ListCaKeysRequest req;
  req.set_purpose("user");
  admin::v1::ListCaKeysResponse keys;
  {
    grpc::ClientContext ctx;
    grpc::Status st = fixture_->admin().ListCaKeys(&ctx, req, &keys);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  std::string bundle, new_key;
  for (const auto& k : keys.keys()) {
    absl::StrAppend(&bundle, k.public_key(), "\n");
    if (k.state() == "active") new_key = k.fingerprint();
  }
  ASSERT_NE(new_key, old_key);
  std::string dir = fixture_->client_known_hosts();
  dir = dirname(dir.data());
  ASSERT_TRUE(WriteFile(dir + "/user_ca.pub", bundle, 0644).ok());

  // The running gateway still takes the retired key's certificate.
  EXPECT_TRUE(RecordedExecWorks("alice", "old-cert-after-rotation"));

  // A new login is signed by the new key.
  ASSERT_TRUE(fixture_->Login("olivia").ok());
  EXPECT_EQ(SigningCa(Certificate("olivia")), new_key);

  // A gateway that fetched the CA keys after the rotation (here: one
  // enrolled and started afresh; a running one fetches them again every
  // keys_refresh, 5 min) takes the new certificate and still the old one.
  EXPECT_EQ(fixture_->StopGateway(), 0) << fixture_->GatewayLog();
  std::error_code ec;
  std::filesystem::remove_all(fixture_->gateway_state_dir(), ec);
  ASSERT_FALSE(ec) << ec.message();
  absl::Status st = fixture_->StartGateway(Gateway());
  ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  EXPECT_TRUE(RecordedExecWorks("olivia", "new-cert"));
  EXPECT_TRUE(RecordedExecWorks("alice", "old-cert-new-gateway"));
  EXPECT_EQ(SigningCa(Certificate("alice")), old_key);
}

}  // namespace
}  // namespace sallyport::testing
