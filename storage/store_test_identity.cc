// Store suite: users, credentials, login lockout, TOTP replay protection,
// roles and bindings.
#include <atomic>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

User MakeUser(std::string name) {
  User u;
  u.name = std::move(name);
  u.display_name = "Display " + u.name;
  return u;
}

Role FullRole(std::string name) {
  Role r;
  r.name = std::move(name);
  r.description = "production web servers";
  r.logins = {"ubuntu", "deploy"};
  HostSelector prod;
  prod.labels = {{"env", "prod"}, {"team", "web"}};
  prod.name_globs = {"web*", "api-??"};
  HostSelector any_db;
  any_db.name_globs = {"db-*"};
  r.hosts = {prod, any_db};
  r.channels = {ChannelKind::kShell, ChannelKind::kExec, ChannelKind::kSftp,
                ChannelKind::kPortForward, ChannelKind::kAgentForward};
  r.max_ttl = absl::Hours(4) + absl::Microseconds(7);
  r.record = RecordMode::kNever;
  DenyRule deny;
  deny.logins = {"root"};
  HostSelector pci;
  pci.labels = {{"pci", "true"}};
  deny.hosts = {pci};
  deny.channels = {ChannelKind::kPortForward};
  r.deny = {deny, DenyRule()};
  return r;
}

TEST_P(StoreTest, UserCreateGetListUpdateDelete) {
  SP_ASSERT_OK_AND_ASSIGN(User bob, store_->CreateUser(MakeUser("bob")));
  EXPECT_EQ(bob.created_at, clock_.Now());
  EXPECT_EQ(bob.updated_at, clock_.Now());
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  SP_EXPECT_CODE(store_->CreateUser(MakeUser("bob")), kAlreadyExists);

  SP_ASSERT_OK_AND_ASSIGN(User got, store_->GetUser("bob"));
  EXPECT_EQ(got, bob);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<User> all, store_->ListUsers());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alice");
  EXPECT_EQ(all[1].name, "bob");

  clock_.Advance(absl::Minutes(5));
  bob.display_name = "Robert";
  bob.disabled = true;
  SP_ASSERT_OK_AND_ASSIGN(User updated, store_->UpdateUser(bob));
  EXPECT_EQ(updated.display_name, "Robert");
  EXPECT_TRUE(updated.disabled);
  EXPECT_EQ(updated.created_at, bob.created_at);
  EXPECT_EQ(updated.updated_at, clock_.Now());
  SP_ASSERT_OK_AND_ASSIGN(got, store_->GetUser("bob"));
  EXPECT_EQ(got, updated);

  SP_EXPECT_CODE(store_->UpdateUser(MakeUser("nobody")), kNotFound);
  SP_ASSERT_OK(store_->DeleteUser("bob"));
  SP_EXPECT_CODE(store_->GetUser("bob"), kNotFound);
  SP_EXPECT_CODE(store_->DeleteUser("bob"), kNotFound);
  SP_EXPECT_CODE(store_->CreateUser(MakeUser("")), kInvalidArgument);
}

// An update made from an old read must not undo a change made since (an
// admin's stale edit enabling a user another admin just disabled).
TEST_P(StoreTest, UpdatesFromAnOldReadAreRefused) {
  SP_ASSERT_OK_AND_ASSIGN(User read, store_->CreateUser(MakeUser("alice")));
  // The clock does not move: updated_at must still change with each update.
  User disable = read;
  disable.disabled = true;
  SP_ASSERT_OK_AND_ASSIGN(User disabled,
                          store_->UpdateUser(disable, read.updated_at));
  EXPECT_GT(disabled.updated_at, read.updated_at);
  User stale = read;
  stale.display_name = "Alice";
  const absl::Status st = store_->UpdateUser(stale, read.updated_at).status();
  SP_EXPECT_CODE(st, kAborted);
  EXPECT_TRUE(absl::StrContains(st.message(), "user 'alice' was changed at"))
      << st;
  SP_ASSERT_OK_AND_ASSIGN(User got, store_->GetUser("alice"));
  EXPECT_TRUE(got.disabled);
  EXPECT_EQ(got.display_name, read.display_name);
  // From the current version, and unconditionally, it applies.
  got.display_name = "Alice";
  SP_ASSERT_OK_AND_ASSIGN(User renamed,
                          store_->UpdateUser(got, disabled.updated_at));
  EXPECT_TRUE(renamed.disabled);
  EXPECT_EQ(renamed.display_name, "Alice");
  SP_ASSERT_OK(store_->UpdateUser(stale).status());
  SP_EXPECT_CODE(store_->UpdateUser(MakeUser("nobody"), read.updated_at),
                 kNotFound);

  SP_ASSERT_OK_AND_ASSIGN(Role role, store_->CreateRole(FullRole("ops")));
  Role first = role;
  first.logins = {"root"};
  SP_ASSERT_OK_AND_ASSIGN(Role updated,
                          store_->UpdateRole(first, role.updated_at));
  EXPECT_GT(updated.updated_at, role.updated_at);
  Role second = role;
  second.description = "from an old read";
  SP_EXPECT_CODE(store_->UpdateRole(second, role.updated_at), kAborted);
  SP_ASSERT_OK_AND_ASSIGN(Role now, store_->GetRole("ops"));
  EXPECT_EQ(now, updated);
}

TEST_P(StoreTest, ErrorsNameTheRecord) {
  const absl::Status missing = store_->GetUser("carol").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("'carol'"), absl::string_view::npos)
      << missing;
  SP_ASSERT_OK(store_->CreateUser(MakeUser("carol")));
  const absl::Status dup = store_->CreateUser(MakeUser("carol")).status();
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(dup.message().find("'carol'"), absl::string_view::npos) << dup;
}

TEST_P(StoreTest, CredentialsPasswordAndTotp) {
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  SP_ASSERT_OK_AND_ASSIGN(Credentials empty, store_->GetCredentials("alice"));
  EXPECT_EQ(empty.user, "alice");
  EXPECT_TRUE(empty.password_hash.empty());
  EXPECT_TRUE(empty.totp_secret.empty());
  EXPECT_EQ(empty.failed_attempts, 0);
  EXPECT_FALSE(empty.locked_until.has_value());

  const std::string phc = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA";
  SP_ASSERT_OK(store_->SetPasswordHash("alice", phc));
  // TOTP secrets are bytes: NUL and 0xff survive.
  const std::string raw("\x00\x01\xff\xfe secret\x00", 12);
  SP_ASSERT_OK(
      store_->SetTotpSecret("alice", base::SecretBytes::FromString(raw)));
  SP_ASSERT_OK_AND_ASSIGN(Credentials c, store_->GetCredentials("alice"));
  EXPECT_EQ(c.password_hash, phc);
  EXPECT_EQ(c.totp_secret.view(), raw);

  SP_ASSERT_OK(store_->SetTotpSecret("alice", base::SecretBytes()));
  SP_ASSERT_OK_AND_ASSIGN(c, store_->GetCredentials("alice"));
  EXPECT_TRUE(c.totp_secret.empty());

  SP_EXPECT_CODE(store_->GetCredentials("nobody"), kNotFound);
  SP_EXPECT_CODE(store_->SetPasswordHash("nobody", phc), kNotFound);
  SP_EXPECT_CODE(store_->SetTotpSecret("nobody", base::SecretBytes()),
                 kNotFound);
}

TEST_P(StoreTest, FailedLoginsLockTheAccountAtTheThreshold) {
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  const LockoutPolicy policy{3, absl::Minutes(15)};

  SP_ASSERT_OK_AND_ASSIGN(LoginFailureResult r,
                          store_->RecordLoginFailure("alice", policy));
  EXPECT_EQ(r.failed_attempts, 1);
  EXPECT_FALSE(r.locked_now);
  EXPECT_FALSE(r.locked_until.has_value());
  SP_ASSERT_OK_AND_ASSIGN(r, store_->RecordLoginFailure("alice", policy));
  EXPECT_EQ(r.failed_attempts, 2);

  clock_.Advance(absl::Seconds(10));
  SP_ASSERT_OK_AND_ASSIGN(r, store_->RecordLoginFailure("alice", policy));
  EXPECT_TRUE(r.locked_now);
  EXPECT_EQ(r.failed_attempts, 0);
  const absl::Time until = clock_.Now() + absl::Minutes(15);
  EXPECT_EQ(r.locked_until, until);
  SP_ASSERT_OK_AND_ASSIGN(Credentials c, store_->GetCredentials("alice"));
  EXPECT_EQ(c.locked_until, until);
  EXPECT_EQ(c.last_failure_at, clock_.Now());

  // While locked: not counted, not extended.
  clock_.Advance(absl::Minutes(1));
  SP_ASSERT_OK_AND_ASSIGN(r, store_->RecordLoginFailure("alice", policy));
  EXPECT_FALSE(r.locked_now);
  EXPECT_EQ(r.failed_attempts, 0);
  EXPECT_EQ(r.locked_until, until);

  // After the lock ends, counting starts again.
  clock_.Advance(absl::Minutes(20));
  SP_ASSERT_OK_AND_ASSIGN(r, store_->RecordLoginFailure("alice", policy));
  EXPECT_EQ(r.failed_attempts, 1);
  EXPECT_FALSE(r.locked_now);
  SP_ASSERT_OK(store_->RecordLoginSuccess("alice"));
  SP_ASSERT_OK_AND_ASSIGN(c, store_->GetCredentials("alice"));
  EXPECT_EQ(c.failed_attempts, 0);

  // An admin unlock clears an active lock.
  for (int i = 0; i < 3; ++i) {
    SP_ASSERT_OK(store_->RecordLoginFailure("alice", policy));
  }
  SP_ASSERT_OK_AND_ASSIGN(c, store_->GetCredentials("alice"));
  ASSERT_TRUE(c.locked_until.has_value());
  EXPECT_FALSE(c.unlocked_at.has_value());
  const absl::Time unlock_time = clock_.Now();
  SP_ASSERT_OK(store_->UnlockUser("alice"));
  SP_ASSERT_OK_AND_ASSIGN(c, store_->GetCredentials("alice"));
  EXPECT_FALSE(c.locked_until.has_value());
  EXPECT_EQ(c.failed_attempts, 0);
  // The unlock is recorded, so lockouts kept outside the store can end.
  ASSERT_TRUE(c.unlocked_at.has_value());
  EXPECT_EQ(*c.unlocked_at, unlock_time);

  SP_EXPECT_CODE(store_->RecordLoginFailure("nobody", policy), kNotFound);
  SP_EXPECT_CODE(
      store_->RecordLoginFailure("alice", LockoutPolicy{0, absl::Minutes(1)}),
      kInvalidArgument);
}

TEST_P(StoreTest, ConcurrentLoginFailuresAreAllCounted) {
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  const LockoutPolicy policy{1000, absl::Minutes(15)};
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 8; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([s, &policy, &errors] {
      for (int i = 0; i < 10; ++i) {
        if (!s->RecordLoginFailure("alice", policy).ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  SP_ASSERT_OK_AND_ASSIGN(Credentials c, store_->GetCredentials("alice"));
  EXPECT_EQ(c.failed_attempts, 80);
}

TEST_P(StoreTest, ConcurrentFailuresLockExactlyOnce) {
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  const LockoutPolicy policy{5, absl::Minutes(15)};
  std::atomic<int> locks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto r = store_->RecordLoginFailure("alice", policy);
        if (r.ok() && r->locked_now) ++locks;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(locks.load(), 1);
}

TEST_P(StoreTest, TotpStepIsClaimedOnlyWhenLaterThanTheLastOne) {
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  SP_ASSERT_OK(store_->CreateUser(MakeUser("bob")));
  SP_ASSERT_OK_AND_ASSIGN(bool claimed, store_->ClaimTotpStep("alice", 5));
  EXPECT_TRUE(claimed);
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("alice", 5));
  EXPECT_FALSE(claimed);
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("alice", 4));
  EXPECT_FALSE(claimed);
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("alice", 6));
  EXPECT_TRUE(claimed);
  // Per user.
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("bob", 5));
  EXPECT_TRUE(claimed);
  // Another store on the database (a second CA instance, or this one after
  // a restart) sees the claims.
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(claimed, other->ClaimTotpStep("alice", 6));
  EXPECT_FALSE(claimed);
  SP_ASSERT_OK_AND_ASSIGN(claimed, other->ClaimTotpStep("alice", 7));
  EXPECT_TRUE(claimed);
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("alice", 7));
  EXPECT_FALSE(claimed);

  // A new secret, or none, forgets the last step.
  SP_ASSERT_OK(store_->SetTotpSecret(
      "alice", base::SecretBytes::FromString("12345678901234567890")));
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("alice", 5));
  EXPECT_TRUE(claimed);
  SP_ASSERT_OK(store_->SetTotpSecret("alice", base::SecretBytes()));
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("alice", 1));
  EXPECT_TRUE(claimed);
  // Other credential changes do not.
  SP_ASSERT_OK(store_->SetPasswordHash("alice", "h"));
  SP_ASSERT_OK(store_->RecordLoginSuccess("alice"));
  SP_ASSERT_OK(store_->UnlockUser("alice"));
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("alice", 1));
  EXPECT_FALSE(claimed);

  // The whole int64 range is stored; larger steps are refused.
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("bob", kMax));
  EXPECT_TRUE(claimed);
  SP_ASSERT_OK_AND_ASSIGN(claimed, store_->ClaimTotpStep("bob", kMax));
  EXPECT_FALSE(claimed);
  SP_EXPECT_CODE(store_->ClaimTotpStep("bob", kMax + 1), kInvalidArgument);
  SP_EXPECT_CODE(
      store_->ClaimTotpStep("bob", std::numeric_limits<uint64_t>::max()),
      kInvalidArgument);

  SP_EXPECT_CODE(store_->ClaimTotpStep("nobody", 5), kNotFound);
  SP_EXPECT_CODE(store_->ClaimTotpStep("", 5), kInvalidArgument);
  SP_ASSERT_OK(store_->DeleteUser("bob"));
  SP_EXPECT_CODE(store_->ClaimTotpStep("bob", 5), kNotFound);
}

// Two CA instances checking the same one-time code at once: one accepts it.
TEST_P(StoreTest, ConcurrentClaimsOfOneTotpStepHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  for (uint64_t step = 1; step <= 10; ++step) {
    std::atomic<bool> go{false};
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      Store* s = t % 2 == 0 ? store_.get() : other.get();
      threads.emplace_back([s, step, &go, &wins] {
        while (!go) std::this_thread::yield();
        absl::StatusOr<bool> claimed = s->ClaimTotpStep("alice", step);
        if (!claimed.ok()) {
          ADD_FAILURE() << claimed.status();
        } else if (*claimed) {
          ++wins;
        }
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << "step " << step;
  }
}

// The same across processes, each with its own store.
TEST_P(StoreTest, TotpStepIsClaimedOnceAcrossProcesses) {
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  StoreBackend* backend = backend_.get();
  base::FakeClock* clock = &clock_;
  auto results = RunInChildProcesses(4, [backend, clock](int) {
    auto store = backend->Open(clock);
    if (!store.ok()) return std::string("E");
    absl::StatusOr<bool> claimed = (*store)->ClaimTotpStep("alice", 42);
    return std::string(!claimed.ok() ? "E" : *claimed ? "W" : "L");
  });
  SP_ASSERT_OK(results);
  int wins = 0;
  for (const std::string& r : *results) {
    EXPECT_NE(r, "E");
    wins += r == "W";
  }
  EXPECT_EQ(wins, 1);
  SP_ASSERT_OK_AND_ASSIGN(bool claimed, store_->ClaimTotpStep("alice", 42));
  EXPECT_FALSE(claimed);
}

TEST_P(StoreTest, RoleRoundTripsEveryRbacField) {
  const Role in = FullRole("web-prod");
  SP_ASSERT_OK_AND_ASSIGN(Role created, store_->CreateRole(in));
  SP_ASSERT_OK_AND_ASSIGN(Role got, store_->GetRole("web-prod"));
  EXPECT_EQ(got, created);
  EXPECT_EQ(got.logins, in.logins);
  EXPECT_EQ(got.hosts, in.hosts);
  EXPECT_EQ(got.channels, in.channels);
  EXPECT_EQ(got.max_ttl, in.max_ttl);
  EXPECT_EQ(got.record, RecordMode::kNever);
  EXPECT_EQ(got.deny, in.deny);

  Role minimal;
  minimal.name = "empty";
  SP_ASSERT_OK(store_->CreateRole(minimal));
  SP_ASSERT_OK_AND_ASSIGN(got, store_->GetRole("empty"));
  EXPECT_TRUE(got.logins.empty());
  EXPECT_TRUE(got.hosts.empty());
  EXPECT_TRUE(got.deny.empty());
  EXPECT_EQ(got.record, RecordMode::kAlways);

  SP_ASSERT_OK_AND_ASSIGN(std::vector<Role> roles, store_->ListRoles());
  ASSERT_EQ(roles.size(), 2u);
  EXPECT_EQ(roles[0].name, "empty");
  EXPECT_EQ(roles[1], created);
  SP_EXPECT_CODE(store_->CreateRole(in), kAlreadyExists);
  Role bad = in;
  bad.max_ttl = absl::ZeroDuration();
  bad.name = "bad";
  SP_EXPECT_CODE(store_->CreateRole(bad), kInvalidArgument);
}

TEST_P(StoreTest, UpdateAndDeleteRole) {
  SP_ASSERT_OK_AND_ASSIGN(Role role, store_->CreateRole(FullRole("ops")));
  clock_.Advance(absl::Hours(1));
  role.logins = {"root"};
  role.deny.clear();
  role.record = RecordMode::kAlways;
  SP_ASSERT_OK_AND_ASSIGN(Role updated, store_->UpdateRole(role));
  EXPECT_EQ(updated.logins, std::vector<std::string>{"root"});
  EXPECT_TRUE(updated.deny.empty());
  EXPECT_EQ(updated.created_at, role.created_at);
  EXPECT_EQ(updated.updated_at, clock_.Now());
  SP_ASSERT_OK_AND_ASSIGN(Role got, store_->GetRole("ops"));
  EXPECT_EQ(got, updated);
  SP_EXPECT_CODE(store_->UpdateRole(FullRole("missing")), kNotFound);
  SP_ASSERT_OK(store_->DeleteRole("ops"));
  SP_EXPECT_CODE(store_->GetRole("ops"), kNotFound);
  SP_EXPECT_CODE(store_->DeleteRole("ops"), kNotFound);
}

TEST_P(StoreTest, RoleBindings) {
  SP_ASSERT_OK(store_->CreateUser(MakeUser("alice")));
  SP_ASSERT_OK(store_->CreateUser(MakeUser("bob")));
  SP_ASSERT_OK(store_->CreateRole(FullRole("web")));
  SP_ASSERT_OK(store_->CreateRole(FullRole("db")));

  SP_ASSERT_OK_AND_ASSIGN(RoleBinding b, store_->BindRole("alice", "web"));
  EXPECT_EQ(b.user, "alice");
  EXPECT_EQ(b.role, "web");
  EXPECT_EQ(b.created_at, clock_.Now());
  SP_ASSERT_OK(store_->BindRole("alice", "db"));
  SP_ASSERT_OK(store_->BindRole("bob", "db"));
  SP_EXPECT_CODE(store_->BindRole("alice", "web"), kAlreadyExists);

  const absl::Status no_user = store_->BindRole("carol", "web").status();
  EXPECT_EQ(no_user.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_user.message().find("user 'carol'"), absl::string_view::npos);
  const absl::Status no_role = store_->BindRole("alice", "nope").status();
  EXPECT_EQ(no_role.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_role.message().find("role 'nope'"), absl::string_view::npos);

  SP_ASSERT_OK_AND_ASSIGN(std::vector<RoleBinding> all,
                          store_->ListRoleBindings(std::nullopt));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].user + "/" + all[0].role, "alice/db");
  EXPECT_EQ(all[1].user + "/" + all[1].role, "alice/web");
  EXPECT_EQ(all[2].user + "/" + all[2].role, "bob/db");
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Role> roles,
                          store_->ListRolesForUser("alice"));
  ASSERT_EQ(roles.size(), 2u);
  EXPECT_EQ(roles[0].name, "db");
  EXPECT_EQ(roles[1].name, "web");
  EXPECT_EQ(roles[1].deny, FullRole("web").deny);

  SP_ASSERT_OK(store_->UnbindRole("alice", "db"));
  SP_EXPECT_CODE(store_->UnbindRole("alice", "db"), kNotFound);
  // Deleting a role or a user removes their bindings.
  SP_ASSERT_OK(store_->DeleteRole("db"));
  SP_ASSERT_OK_AND_ASSIGN(all, store_->ListRoleBindings(std::nullopt));
  ASSERT_EQ(all.size(), 1u);
  SP_ASSERT_OK(store_->DeleteUser("alice"));
  SP_ASSERT_OK_AND_ASSIGN(all, store_->ListRoleBindings("alice"));
  EXPECT_TRUE(all.empty());
  SP_ASSERT_OK_AND_ASSIGN(roles, store_->ListRolesForUser("alice"));
  EXPECT_TRUE(roles.empty());
  SP_EXPECT_CODE(store_->GetCredentials("alice"), kNotFound);
}

}  // namespace
}  // namespace sallyport::storage::testing
