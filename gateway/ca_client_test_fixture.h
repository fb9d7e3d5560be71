// The fixture of CaClient's tests against a real in-process CA
// (ca/gateway_test_util): ca_client_test.cc (the pinned mTLS channel, the
// cached CA keys, asynchronous calls on the caller's executor, the session
// certificate's deadline) and ca_client_revocation_test.cc (the revocation
// set fed by the stream, failing closed once the CA has been gone longer
// than revocation_grace). Alice may log in as root on web* hosts, gw1 is
// enrolled, and its mTLS files are in a temporary directory.
#ifndef SALLYPORT_GATEWAY_CA_CLIENT_TEST_FIXTURE_H_
#define SALLYPORT_GATEWAY_CA_CLIENT_TEST_FIXTURE_H_

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/files.h"
#include "ca/gateway_test_util.h"
#include "ca/source_relay.h"
#include "gateway/ca_client.h"
#include "gtest/gtest.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::gateway {

class CaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ca::StartCa(ca::Backend::kSqlite, &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    storage::Role ops;
    ops.name = "ops";
    ops.logins = {"root"};
    ops.hosts = {storage::HostSelector{.labels = {}, .name_globs = {"web*"}}};
    ops.channels = {storage::ChannelKind::kShell};
    ASSERT_TRUE(env_->store().CreateRole(ops).ok());
    ASSERT_TRUE(env_->AddUser("alice", "alice-pw", {"ops"}).ok());
    alice_ = env_->Login("alice", "alice-pw");
    ASSERT_TRUE(alice_.status.ok()) << alice_.status.error_message();
    gateway_ = ca::EnrollOrDie(*env_, "gw1");
    auto dir = testing::TempDir::Create("gwca");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    channel_options_.address = env_->server().address();
    channel_options_.tls_key_path = dir_->File("gateway_tls.key");
    channel_options_.tls_certificate_path = dir_->File("gateway_tls.crt");
    ASSERT_TRUE(
        testing::WriteFile(channel_options_.tls_key_path, gateway_.tls_key_pem)
            .ok());
    ASSERT_TRUE(
        testing::WriteFile(channel_options_.tls_certificate_path,
                           gateway_.response.tls_client_certificate_pem())
            .ok());
    auto pem = base::ReadTextFile(env_->dir() + "/state/tls.crt");
    ASSERT_TRUE(pem.ok()) << pem.status();
    auto fp = CertificatePemFingerprint(*pem);
    ASSERT_TRUE(fp.ok()) << fp.status();
    channel_options_.fingerprint = *fp;
    channel_options_.ca_certificate_path = env_->dir() + "/state/tls.crt";
  }

  std::unique_ptr<CaClient> MakeClient(
      const base::Clock* clock = nullptr,
      absl::Duration grace = absl::Seconds(60),
      const std::function<void(CaClient::Options*)>& edit = nullptr) {
    auto channel = MakeCaChannel(channel_options_);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return nullptr;
    CaClient::Options o;
    o.channel = *channel;
    o.clock = clock;
    o.revocation_grace = grace;
    o.reconnect_initial = absl::Milliseconds(50);
    o.reconnect_max = absl::Milliseconds(200);
    if (edit) edit(&o);
    auto c = CaClient::Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Polls `pred` for up to `limit`.
  template <typename Pred>
  static bool WaitFor(Pred pred, absl::Duration limit = absl::Seconds(20)) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return pred();
  }

  static int PortOf(const std::string& address) {
    int port = 0;
    return absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)
               ? port
               : 0;
  }

  // A relay in front of the CA, on `listen_port` (0: a free port); the
  // clients MakeClient makes from now on connect through it.
  absl::StatusOr<std::unique_ptr<ca::SourceRelay>> RelayToCa(
      int listen_port = 0) {
    auto relay = ca::SourceRelay::Start(
        "127.0.0.1", PortOf(env_->server().address()), listen_port);
    if (relay.ok()) channel_options_.address = (*relay)->address();
    return relay;
  }

  // The inventory host "web01" (127.0.0.1:22), selected by role "ops".
  absl::Status CreateWeb01() {
    storage::Host h;
    h.name = "web01";
    h.address = "127.0.0.1";
    h.port = 22;
    return env_->store().CreateHost(h).status();
  }

  // Starts an asynchronous CaClient call, start(executor, done), on a
  // private io_context and runs that until `done` ran (at most 30 s).
  // Returns what `done` got (`result` when it did not run); *on_executor:
  // whether it ran on that io_context's thread.
  template <typename Result, typename Start>
  static Result RunOnPrivateIo(Start start, Result result,
                               bool* on_executor = nullptr) {
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    start(io.get_executor(), [&](Result r) {
      if (on_executor != nullptr) {
        *on_executor = io.get_executor().running_in_this_thread();
      }
      result = std::move(r);
      guard.reset();
    });
    io.run_for(std::chrono::seconds(30));
    return result;
  }

  // RefreshUserCaKeysSoon, run until it answers.
  static void RefreshKeysSoon(CaClient& client) {
    RunOnPrivateIo(
        [&](auto executor, auto done) {
          client.RefreshUserCaKeysSoon(executor, std::move(done));
        },
        std::vector<ssh::crypto::PublicKey>());
  }

  // Runs an AuthorizeChannel call to completion on a private io_context;
  // checks that the completion ran on that io_context's thread.
  absl::StatusOr<gateway::v1::AuthorizeChannelResponse> Authorize(
      CaClient& client, const std::string& login, const std::string& host,
      const std::string& kind) {
    gateway::v1::AuthorizeChannelRequest request;
    request.set_user_certificate(alice_.response.ssh_certificate());
    request.set_login(login);
    request.set_host(host);
    request.set_kind(kind);
    bool on_executor = false;
    absl::StatusOr<gateway::v1::AuthorizeChannelResponse> result =
        RunOnPrivateIo(
            [&](auto executor, auto done) {
              client.AuthorizeChannel(request, executor, std::move(done));
            },
            absl::StatusOr<gateway::v1::AuthorizeChannelResponse>(
                absl::UnknownError("not called")),
            &on_executor);
    EXPECT_TRUE(on_executor);
    return result;
  }

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<ca::CaTestEnv> env_;
  ca::CaTestEnv::LoginResult alice_;
  ca::EnrolledGateway gateway_;
  std::unique_ptr<testing::TempDir> dir_;
  CaChannelOptions channel_options_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_CA_CLIENT_TEST_FIXTURE_H_
