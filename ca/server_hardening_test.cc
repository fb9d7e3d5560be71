// The CA against hostile clients and operator mistakes: lockouts that a
// stranger cannot use against a user elsewhere, bounded password hashing,
// client certificates bound to the user (not the name), invalid UTF-8,
// the listen address, a port in use, key file modes, the health service,
// and the one-line event log. What depends on the store runs on SQLite and
// PostgreSQL (StoreHardeningTest). The limits on long calls (revocation
// streams) and the keepalive are in server_streams_test.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/ca_service.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "ca/hash_gate.h"
#include "ca/init.h"
#include "ca/login.h"
#include "ca/source_relay.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/harness/postgres_fixture.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;

// The tests of what the store keeps (failure counts, locks, user ids,
// revocations) run on SQLite and on PostgreSQL: one PostgreSQL server for
// the suite, a fresh database a test.
class StoreHardeningTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() { pg_.reset(); }
  std::unique_ptr<CaTestEnv> MakeEnv(CaTestEnv::Options options = {}) {
    if (GetParam() == Backend::kPostgres) {
      if (pg_ == nullptr) {
        auto started = testing::PostgresFixture::Start();
        EXPECT_TRUE(started.ok()) << started.status();
        if (!started.ok()) return nullptr;
        pg_ = std::move(*started);
      }
      auto url = pg_->CreateDatabase(absl::StrCat("hardening_", ++databases_));
      EXPECT_TRUE(url.ok()) << url.status();
      if (!url.ok()) return nullptr;
      options.store_url = *url;
    }
    return ca::MakeEnv(options);
  }

 private:
  static inline std::unique_ptr<testing::PostgresFixture> pg_;
  static inline int databases_ = 0;
};

SP_INSTANTIATE_ON_BOTH_BACKENDS(StoreHardeningTest);

bool LogHas(CaTestEnv& env, const std::vector<std::string>& parts) {
  for (const std::string& line : env.log_lines()) {
    bool all = true;
    for (const std::string& p : parts) all = all && absl::StrContains(line, p);
    if (all) return true;
  }
  return false;
}

// Five wrong passwords for admin from 127.0.0.2 used to lock the real admin
// out everywhere.
TEST_P(StoreHardeningTest, AnotherSourceCannotLockAUserOut) {
  CaTestEnv::Options options;
  options.lockout = {.max_failures = 5, .lockout = absl::Minutes(15)};
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(env->Login("admin", "guess", "", "127.0.0.2").status.error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  // The CA really saw the other source, and locked admin there.
  EXPECT_TRUE(LogHas(*env, {"event=login.locked", "source=\"127.0.0.2\""}));
  EXPECT_EQ(env->Login("admin", env->admin_password(), "", "127.0.0.2")
                .status.error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  // The real admin at 127.0.0.1 is not locked (only slowed a little).
  auto ok = env->Login("admin", env->admin_password());
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
}

// 21 failures with made-up names from one address used to lock out every
// real user at that address.
TEST_P(StoreHardeningTest, MadeUpNamesDoNotLockRealUsersAtThatSource) {
  auto env = MakeEnv();  // max_failures_per_address 20
  ASSERT_NE(env, nullptr);
  for (int i = 0; i < 21; ++i) {
    EXPECT_EQ(env->Login(absl::StrCat("nobody", i), "x").status.error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  auto ok = env->Login("admin", env->admin_password());
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  // ...but the source is throttled.
  EXPECT_GT(env->server().login().Throttle("someone", "127.0.0.1"),
            absl::ZeroDuration());
}

// A locked pair costs no scrypt.
TEST_P(StoreHardeningTest, LockedPairSkipsTheHash) {
  CaTestEnv::Options options;
  options.lockout = {.max_failures = 2, .lockout = absl::Minutes(15)};
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  env->Login("admin", "x");
  env->Login("admin", "x");
  const int64_t before = env->server().hasher().verify_derivations();
  EXPECT_EQ(env->Login("admin", "x").status.error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(env->server().hasher().verify_derivations(), before);
}

// The last admin, locked at the CA host itself, is unlocked locally; an
// admin's UnlockUser ends another user's lock at any source.
TEST_P(StoreHardeningTest, LocalUnlockAndAdminUnlockEndPairLocks) {
  CaTestEnv::Options options;
  options.lockout = {.max_failures = 3, .lockout = absl::Hours(1)};
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  for (int i = 0; i < 3; ++i) env->Login("admin", "x");
  ASSERT_EQ(env->Login("admin", env->admin_password()).status.error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  env->clock().Advance(absl::Seconds(1));
  ASSERT_TRUE(UnlockUserLocally(&env->store(), "admin").ok());
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok()) << admin.status.error_message();
  EXPECT_EQ(UnlockUserLocally(&env->store(), "nobody").code(),
            absl::StatusCode::kNotFound);

  ASSERT_TRUE(env->AddUser("bob", "bob-pw", {"login"}).ok());
  for (int i = 0; i < 3; ++i) env->Login("bob", "x", "", "127.0.0.2");
  ASSERT_EQ(env->Login("bob", "bob-pw", "", "127.0.0.2").status.error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  env->clock().Advance(absl::Seconds(1));
  auto stub = admin::v1::Admin::NewStub(admin.channel);
  admin::v1::UnlockUserRequest unlock;
  unlock.set_user("bob");
  google::protobuf::Empty empty;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->UnlockUser(&ctx, unlock, &empty).ok());
  EXPECT_TRUE(env->Login("bob", "bob-pw", "", "127.0.0.2").status.ok());
  // The admin call is one log line too.
  EXPECT_TRUE(LogHas(*env, {"event=admin.UnlockUser", "outcome=success",
                            "user=\"bob\"", "source=\"127.0.0.1\""}));
}

TEST(HardeningTest, HashGateWaitsBrieflyThenRefuses) {
  HashGate gate({.slots = 1, .max_waiters = 1, .max_wait = absl::Seconds(5)});
  HashGate::Slot held = gate.Acquire();
  ASSERT_TRUE(held.ok());
  std::optional<HashGate::Slot> waited;
  std::thread waiter([&] { waited.emplace(gate.Acquire()); });
  // Once the waiter is queued (the only waiter allowed), the next caller
  // is refused at once.
  const absl::Time deadline = absl::Now() + absl::Seconds(4);
  while (gate.waiting() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(gate.waiting(), 1);
  const absl::Time t0 = absl::Now();
  HashGate::Slot extra = gate.Acquire();
  EXPECT_FALSE(extra.ok());
  const bool refused_fast = absl::Now() - t0 < absl::Seconds(1);
  EXPECT_TRUE(refused_fast) << "a caller beyond max_waiters must not wait";
  { HashGate::Slot release = std::move(held); }
  waiter.join();
  ASSERT_TRUE(waited.has_value());
  EXPECT_TRUE(waited->ok());
}

TEST(HardeningTest, LoginIsRefusedQuicklyWhenHashingIsFull) {
  CaTestEnv::Options options;
  options.hash_limits = {
      .slots = 1, .max_waiters = 1, .max_wait = absl::Milliseconds(100)};
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->server().hash_gate().slots(), 1);
  HashGate::Slot held = env->server().hash_gate().Acquire();
  ASSERT_TRUE(held.ok());
  const int64_t before = env->server().hasher().verify_derivations();
  auto busy = env->Login("admin", env->admin_password());
  EXPECT_EQ(busy.status.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(busy.status.error_message(), kBusyMessage);
  EXPECT_EQ(env->server().hasher().verify_derivations(), before);
  { HashGate::Slot release = std::move(held); }
  EXPECT_TRUE(env->Login("admin", env->admin_password()).status.ok());
  // The default is one slot per core.
  HashGate cores({});
  EXPECT_EQ(cores.slots(),
            std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  EXPECT_EQ(cores.max_waiters(), 4 * cores.slots());
}

// The memory quota that stops oversized messages (tests/e2e
// ca_hardening_e2e_test) leaves room for many ordinary clients at once.
TEST_P(StoreHardeningTest, ManyConcurrentClientsFitTheResourceQuota) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  constexpr int kClients = 64;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&] {
      auto channel = env->ClientChannel(
          admin.tls_key_pem, admin.response.tls_client_certificate_pem());
      auto stub = v1::CertificateAuthority::NewStub(channel);
      for (int k = 0; k < 10; ++k) {
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
        v1::CaPublicKeys keys;
        if (!stub->GetCaPublicKeys(&ctx, {}, &keys).ok()) failures++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// After carol was deleted and a new carol created, the old carol's client
// certificate used to work again.
TEST_P(StoreHardeningTest, ClientCertificateIsBoundToTheUserNotTheName) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->AddUser("carol", "carol-pw", {"login"}).ok());
  auto old_carol = env->Login("carol", "carol-pw");
  ASSERT_TRUE(old_carol.status.ok()) << old_carol.status.error_message();
  ASSERT_TRUE(GetCaPublicKeys(old_carol.channel)->ok());

  // Deleted behind the admin API's back (no revocation): the binding alone
  // refuses the old certificate.
  env->clock().Advance(absl::Seconds(2));
  ASSERT_TRUE(env->store().DeleteUser("carol").ok());
  ASSERT_TRUE(env->AddUser("carol", "new-carol-pw", {"login"}).ok());
  grpc::Status st = *GetCaPublicKeys(old_carol.channel);
  EXPECT_EQ(st.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "another user"))
      << st.error_message();
  auto new_carol = env->Login("carol", "new-carol-pw");
  ASSERT_TRUE(new_carol.status.ok());
  EXPECT_TRUE(GetCaPublicKeys(new_carol.channel)->ok());

  // Deleted by an admin: the user's certificates are revoked.
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  auto stub = admin::v1::Admin::NewStub(admin.channel);
  admin::v1::DeleteUserRequest del;
  del.set_name("carol");
  google::protobuf::Empty empty;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->DeleteUser(&ctx, del, &empty).ok());
  auto revoked = env->store().IsRevoked(new_carol.response.serial(), "");
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(*revoked);
  ASSERT_TRUE(env->AddUser("carol", "third-carol-pw", {"login"}).ok());
  EXPECT_EQ(GetCaPublicKeys(new_carol.channel)->error_code(),
            StatusCode::UNAUTHENTICATED);
}

// Invalid UTF-8 in the user name used to be INTERNAL with an empty message.
TEST(HardeningTest, InvalidUtf8UserNameIsInvalidArgumentWithAReason) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  for (const std::string& user :
       {std::string("ad\xffmin"), std::string("\xc0\xaf"),
        std::string("a\0b", 3)}) {
    auto r = env->Login(user, "x");
    EXPECT_EQ(r.status.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(r.status.error_message(), "user"))
        << r.status.error_message();
  }
  auto r = env->Login("ad\xffmin", "x");
  EXPECT_TRUE(absl::StrContains(r.status.error_message(), "UTF-8"))
      << r.status.error_message();
}

// Found in review: a user name holding controls reached the audit log as
// it was (the actor and payload of login.failed), and from it the
// auditor's terminal: ESC [8m hid the rows after it, an OSC 52 wrote the
// clipboard, U+202E reversed the text. Such a name is no user's: Login
// refuses it as it refuses one that is not UTF-8, before anything is
// recorded.
TEST(HardeningTest, AUserNameWithControlsIsRefusedAndNotRecorded) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  for (const std::string& user :
       {std::string("mallory\x1b[8m\x1b]52;c;ZWNobyBQV05FRA==\x07"),
        std::string("alice\xe2\x80\xae"), std::string("bob\xc2\x9b"),
        std::string("carol\r\n"), std::string("dave\xe2\x80\x8b")}) {
    auto r = env->Login(user, "x");
    EXPECT_EQ(r.status.error_code(), StatusCode::INVALID_ARGUMENT)
        << r.status.error_message();
    EXPECT_TRUE(absl::StrContains(r.status.error_message(), "user"))
        << r.status.error_message();
  }
  auto events = env->store().ListAuditEvents(0, 10000);
  ASSERT_TRUE(events.ok()) << events.status();
  for (const auto& e : *events) {
    for (const std::string* text : {&e.actor, &e.payload_json}) {
      EXPECT_EQ(text->find('\x1b'), std::string::npos) << *text;
      EXPECT_FALSE(absl::StrContains(*text, "\xe2\x80\xae")) << *text;
      EXPECT_FALSE(absl::StrContains(*text, "\xc2\x9b")) << *text;
      EXPECT_FALSE(absl::StrContains(*text, "mallory")) << *text;
    }
  }
  // A user name of another script is still a name to try.
  auto other = env->Login("\xd0\xb0\xd0\xbb\xd0\xb8\xd1\x81\xd0\xb0", "x");
  EXPECT_EQ(other.status.error_code(), StatusCode::UNAUTHENTICATED)
      << other.status.error_message();
}

TEST(HardeningTest, HealthServiceAnswersServing) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  grpc::GenericStub stub(env->AnonymousChannel());
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::Slice empty_request("");
  grpc::ByteBuffer request(&empty_request, 1);  // HealthCheckRequest{}
  auto call =
      stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(ok);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status: SERVING (1)}: field 1, varint 1.
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

CaServer::Options ServerOptions(CaTestEnv& env, const std::string& listen) {
  auto settings = LoadCaSettings(env.init().config_path);
  EXPECT_TRUE(settings.ok()) << settings.status();
  CaServer::Options options;
  if (settings.ok()) options.settings = *settings;
  options.store = &env.store();
  options.clock = &env.clock();
  options.listen = listen;
  options.write_log_line = [](std::string_view) {};
  return options;
}

// gRPC's default SO_REUSEPORT let a second CA start on the same port and
// take half of the logins.
TEST(HardeningTest, SecondCaOnTheSamePortFailsToStart) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  auto second = CaServer::Start(ServerOptions(*env, env->server().address()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(
      absl::StrContains(second.status().message(), env->server().address()));
  EXPECT_TRUE(absl::StrContains(second.status().message(), "using the port"))
      << second.status();
  // The first one still answers.
  EXPECT_TRUE(env->Login("admin", env->admin_password()).status.ok());
}

TEST(HardeningTest, BadListenAddressIsRefused) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  for (const char* bad : {"127.0.0.1:99999", ":99999", "127.0.0.1"}) {
    auto s = CaServer::Start(ServerOptions(*env, bad));
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(HardeningTest, KeyFilesReadableByOthersAreRefused) {
  CaTestEnv::Options env_options;
  env_options.session_ca = true;
  auto env = MakeEnv(env_options);
  ASSERT_NE(env, nullptr);
  CaServer::Options options = ServerOptions(*env, "127.0.0.1:0");
  ASSERT_FALSE(options.settings.session_ca_key.empty());
  for (const std::string& key :
       {options.settings.tls_key, options.settings.user_ca_key,
        options.settings.host_ca_key, options.settings.client_ca_key,
        options.settings.session_ca_key}) {
    for (mode_t mode : {0640, 0604}) {
      ASSERT_EQ(chmod(key.c_str(), mode), 0);
      auto s = CaServer::Start(ServerOptions(*env, "127.0.0.1:0"));
      ASSERT_FALSE(s.ok()) << key;
      EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_TRUE(absl::StrContains(s.status().message(), key));
      EXPECT_TRUE(absl::StrContains(s.status().message(), "chmod 600"));
    }
    ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  }
  auto s = CaServer::Start(ServerOptions(*env, "127.0.0.1:0"));
  EXPECT_TRUE(s.ok()) << s.status();
}

TEST_P(StoreHardeningTest, EveryLoginAndLockoutIsOneLogLineWithoutSecrets) {
  CaTestEnv::Options options;
  options.lockout = {.max_failures = 2, .lockout = absl::Minutes(15)};
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  env->Login("admin", "hunter2-secret");
  env->Login("admin", "hunter2-secret");
  env->Login("admin", "hunter2-secret");
  ASSERT_TRUE(
      env->Login("admin", env->admin_password(), "", "127.0.0.3").status.ok());
  const std::vector<std::string> lines = env->log_lines();
  EXPECT_TRUE(
      LogHas(*env, {"event=login.failed", "outcome=failure", "user=\"admin\"",
                    "source=\"127.0.0.1\"", "reason=\"bad-password\""}));
  EXPECT_TRUE(
      LogHas(*env, {"event=login.locked", "outcome=failure", "until=\""}));
  EXPECT_TRUE(LogHas(*env, {"event=login.failed", "reason=\"locked\""}));
  EXPECT_TRUE(LogHas(
      *env, {"event=login.ok", "outcome=success", "source=\"127.0.0.3\""}));
  for (const std::string& line : lines) {
    EXPECT_FALSE(absl::StrContains(line, "hunter2")) << line;
    EXPECT_FALSE(absl::StrContains(line, env->admin_password())) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    // A UTC timestamp first.
    EXPECT_EQ(line.size() > 27 ? line[26] : ' ', 'Z') << line;
  }
}

TEST(HardeningTest, JsonLogFormat) {
  CaTestEnv::Options options;
  options.log_format = "json";
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  env->Login("ad\"min", "x");
  ASSERT_FALSE(env->log_lines().empty());
  const std::string line = env->log_lines().back();
  EXPECT_TRUE(absl::StartsWith(line, "{\"time\":\"")) << line;
  EXPECT_TRUE(absl::EndsWith(line, "}")) << line;
  EXPECT_TRUE(absl::StrContains(
      line, "\"event\":\"login.failed\",\"outcome\":\"failure\""))
      << line;
  EXPECT_TRUE(absl::StrContains(line, "\"user\":\"ad\\\"min\"")) << line;
  EXPECT_TRUE(absl::StrContains(line, "\"reason\":\"unknown-user\"")) << line;
}

}  // namespace
}  // namespace sallyport::ca
