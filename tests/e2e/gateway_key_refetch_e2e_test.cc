// gwrest (issue 12): the real gateway fetches the user CA keys again when a
// certificate is signed by a key it does not hold yet, instead of waiting
// for its 5-minute key refresh. A whole deployment (BastionFixture: real
// CA, real sallyport-gateway, real sshd targets, stock ssh):
// - after `spctl ca rotate` a new login's certificate (signed by the new
//   key) opens a recorded session through the running gateway at once;
// - a flood of certificates from a CA nobody trusts is refused, and makes
//   the gateway fetch the keys at most once per
//   unknown_key_refresh_interval (10 s).
#include <libgen.h>

#include <regex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

constexpr char kFetchLine[] = "fetching the CA keys again";

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

int Count(const std::string& text, std::string_view needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

class KeyRefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = BastionFixture::Start();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = std::move(*f);
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
  }
  void TearDown() override {
    if (HasFailure() && fixture_ != nullptr) {
      std::fprintf(stderr, "--- gateway ---\n%s\n--- CA ---\n%s\n",
                   fixture_->GatewayLog().c_str(), fixture_->CaLog().c_str());
    }
    if (fixture_ != nullptr) fixture_->StopGateway();
  }
  // `ssh -F CONFIG -l LOGIN+web01 gateway echo MARK`.
  RunResult Exec(const std::string& config, const std::string& mark) {
    auto r = RunCommand({"ssh", "-F", config, "-l",
                         absl::StrCat(fixture_->target_login(), "+web01"),
                         "gateway", absl::StrCat("echo ", mark)});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  std::unique_ptr<BastionFixture> fixture_;
};

TEST_F(KeyRefetchTest, ARotatedInKeysCertificateIsAcceptedAtOnce) {
  auto olivia = fixture_->user("olivia");
  ASSERT_TRUE(olivia.ok()) << olivia.status();
  const std::string old_key = SigningCa((*olivia)->certificate);
  ASSERT_FALSE(old_key.empty());
  {
    RunResult r = Exec((*olivia)->ssh_config, "before");
    ASSERT_EQ(r.out, "before\n") << r.Describe();
  }

  // The real `spctl ca rotate`.
  auto admin = fixture_->user("admin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  RunOptions ro;
  ro.env["SALLYPORT_HOME"] = (*admin)->home;
  auto rotate = RunCommand({RunfilePath("cli/spctl"), "ca", "rotate"}, ro);
  ASSERT_TRUE(rotate.ok() && rotate->ok())
      << (rotate.ok() ? rotate->Describe() : rotate.status().ToString());
  // The targets trust both keys (the bundle an operator ships).
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

  // A new login, signed by the new key, goes through the running gateway
  // now (its own key refresh is 5 minutes away).
  ASSERT_TRUE(fixture_->Login("olivia").ok());
  ASSERT_EQ(SigningCa((*olivia)->certificate), new_key);
  const absl::Time start = absl::Now();
  RunResult r = Exec((*olivia)->ssh_config, "after-rotation");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "after-rotation\n") << r.Describe();
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));
  EXPECT_EQ(Count(fixture_->GatewayLog(), kFetchLine), 1)
      << fixture_->GatewayLog();
}

TEST_F(KeyRefetchTest, AnUnknownKeyFloodFetchesAtMostOncePerInterval) {
  auto dir = TempDir::Create("flood");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string ca = dir->File("unknown_ca");
  const std::string key = dir->File("flood_key");
  ASSERT_TRUE(
      RunCommandOk({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca})
          .ok());
  ASSERT_TRUE(
      RunCommandOk({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key})
          .ok());
  ASSERT_TRUE(
      RunCommandOk({"ssh-keygen", "-q", "-s", ca, "-I", "flood", "-n",
                    fixture_->target_login(), "-V", "-5m:+1h", key + ".pub"})
          .ok());
  // alice's ssh_config with the flood key and certificate instead of hers.
  auto alice = fixture_->user("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  const std::string text = ReadFileOrEmpty((*alice)->ssh_config);
  ASSERT_FALSE(text.empty());
  std::string config;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, "IdentityFile")) {
      absl::StrAppend(&config, "  IdentityFile ", key, "\n");
    } else if (absl::StrContains(line, "CertificateFile")) {
      absl::StrAppend(&config, "  CertificateFile ", key, "-cert.pub\n");
    } else {
      absl::StrAppend(&config, line, "\n");
    }
  }
  const std::string flood_config = dir->File("ssh_config");
  ASSERT_TRUE(WriteFile(flood_config, config).ok());

  // 24 connections, 8 at a time: every one is refused.
  constexpr int kConnections = 24;
  const absl::Time start = absl::Now();
  std::vector<RunResult> results(kConnections);
  for (int wave = 0; wave < kConnections / 8; ++wave) {
    std::vector<std::thread> threads;
    for (int i = wave * 8; i < (wave + 1) * 8; ++i) {
      threads.emplace_back([&, i] {
        auto r = RunCommand({"ssh", "-F", flood_config, "-l",
                             absl::StrCat(fixture_->target_login(), "+web01"),
                             "gateway", "echo flood"});
        if (r.ok()) results[i] = *r;
      });
    }
    for (auto& t : threads) t.join();
  }
  const absl::Duration elapsed = absl::Now() - start;
  for (int i = 0; i < kConnections; ++i) {
    EXPECT_NE(results[i].exit_code, 0) << i << ": " << results[i].Describe();
    EXPECT_FALSE(absl::StrContains(results[i].out, "flood")) << i;
    EXPECT_TRUE(absl::StrContains(results[i].err, "Permission denied"))
        << i << ": " << results[i].Describe();
  }
  // At most one fetch per started 10 s (plus the one in flight at the
  // start of an interval); without the rate limit it is one per
  // connection.
  const int allowed = 1 + static_cast<int>(absl::ToInt64Seconds(elapsed) / 10);
  const int fetches = Count(fixture_->GatewayLog(), kFetchLine);
  EXPECT_GE(fetches, 1) << fixture_->GatewayLog();
  EXPECT_LE(fetches, allowed) << "in " << absl::FormatDuration(elapsed) << "\n"
                              << fixture_->GatewayLog();
  ASSERT_LT(allowed, kConnections)
      << "too slow to tell: " << absl::FormatDuration(elapsed);

  // A legitimate user is not held up by it.
  RunResult ok = Exec((*alice)->ssh_config, "still-fine");
  EXPECT_EQ(ok.out, "still-fine\n") << ok.Describe();
}

}  // namespace
}  // namespace sallyport::testing
