// The admin operations over real gRPC/TLS against an in-process CA: users,
// roles and bindings with every call audited, CA key rotation (by RPC, by
// another instance, by a key file replaced while stopped, the session key),
// the revocation stream, host certificates, and the limits on passwords
// and token lists. Who may call: server_admin_auth_test.cc.
#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/secret_bytes.h"
#include "ca/admin_service.h"
#include "ca/ca_keys.h"
#include "ca/ca_test_env.h"
#include "ca/password_hash.h"
#include "ca/server_test_util.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/subprocess.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace pb = admin::v1;

TEST(AdminServiceTest, ManagesUsersRolesAndBindingsAndAuditsEveryCall) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  auto stub = pb::Admin::NewStub(admin.channel);

  pb::Role role;
  role.set_name("web");
  role.add_logins("www");
  role.add_channels("shell");
  *role.mutable_max_ttl() = ToDurationProto(absl::Hours(1));
  pb::Role created_role;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->CreateRole(&ctx, role, &created_role).ok());
  }
  EXPECT_EQ(created_role.record(), "always");
  role.add_channels("teleport");
  {
    grpc::ClientContext ctx;
    pb::Role out;
    EXPECT_EQ(stub->CreateRole(&ctx, role, &out).error_code(),
              StatusCode::INVALID_ARGUMENT);
  }
  pb::CreateUserRequest create;
  create.mutable_user()->set_name("frank");
  create.set_password("frank-pw");
  pb::User frank;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->CreateUser(&ctx, create, &frank).ok());
  }
  EXPECT_TRUE(frank.has_password());
  {
    grpc::ClientContext ctx;
    pb::RoleBinding binding, out;
    binding.set_user("frank");
    binding.set_role("web");
    ASSERT_TRUE(stub->BindRole(&ctx, binding, &out).ok());
  }
  pb::ListUsersResponse users;
  ASSERT_TRUE(ListUsers(admin.channel, &users).ok());
  EXPECT_EQ(users.users_size(), 2);

  auto frank_login = env->Login("frank", "frank-pw");
  ASSERT_TRUE(frank_login.status.ok()) << frank_login.status.error_message();
  auto cert =
      ssh::cert::Certificate::FromLine(frank_login.response.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->principals, std::vector<std::string>{"www"});
  EXPECT_EQ(cert->valid_before - cert->valid_after, 3600u + 60u);

  for (const char* type : {"admin.CreateRole", "admin.CreateUser",
                           "admin.BindRole", "admin.ListUsers"}) {
    EXPECT_FALSE(Events(*env, type).empty()) << type;
  }
  auto create_events = Events(*env, "admin.CreateUser");
  ASSERT_EQ(create_events.size(), 1u);
  EXPECT_EQ(create_events[0].actor, "admin");
  EXPECT_FALSE(absl::StrContains(create_events[0].payload_json, "frank-pw"));
  // The failed CreateRole is recorded with its code.
  auto role_events = Events(*env, "admin.CreateRole");
  ASSERT_EQ(role_events.size(), 2u);
  EXPECT_TRUE(
      absl::StrContains(role_events[1].payload_json, "INVALID_ARGUMENT"));
}

TEST(AdminServiceTest, RotateCaKeyKeepsTheOldKeyTrusted) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  const std::string old_fp =
      admin.response.ca_public_keys().user_ca(0).fingerprint();
  pb::RotateCaKeyRequest req;
  req.set_purpose("user");
  pb::CaKey rotated;
  grpc::ClientContext ctx;
  ASSERT_TRUE(
      pb::Admin::NewStub(admin.channel)->RotateCaKey(&ctx, req, &rotated).ok());
  EXPECT_NE(rotated.fingerprint(), old_fp);
  EXPECT_EQ(rotated.state(), "active");

  auto again = env->Login("admin", env->admin_password());
  ASSERT_TRUE(again.status.ok());
  const auto& user_ca = again.response.ca_public_keys().user_ca();
  ASSERT_EQ(user_ca.size(), 2);
  EXPECT_EQ(user_ca[0].fingerprint(), rotated.fingerprint());
  EXPECT_TRUE(user_ca[0].active());
  EXPECT_EQ(user_ca[1].fingerprint(), old_fp);
  EXPECT_FALSE(user_ca[1].active());
  auto cert =
      ssh::cert::Certificate::FromLine(again.response.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->CaFingerprint(), rotated.fingerprint());
  // A retired key file is kept beside the new one.
  int retired = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(env->dir() + "/state")) {
    if (absl::EndsWith(e.path().string(), ".retired")) ++retired;
  }
  EXPECT_EQ(retired, 1);
  // After the longest user certificate has expired, the old key goes.
  env->clock().Advance(absl::Hours(8) + absl::Minutes(1));
  auto later = env->Login("admin", env->admin_password());
  ASSERT_TRUE(later.status.ok());
  EXPECT_EQ(later.response.ca_public_keys().user_ca_size(), 1);
}

// Another CA instance on the same database rotates the user CA key: this
// instance reads the store's key list at most once per kKeyListTtl, so the
// new key is trusted here after that long (and never before its record
// exists).
TEST(AdminServiceTest, AnotherInstancesRotationIsTrustedAfterKeyListTtl) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  ASSERT_EQ(admin.response.ca_public_keys().user_ca_size(), 1);
  const std::string ours =
      admin.response.ca_public_keys().user_ca(0).fingerprint();
  auto fresh = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(fresh.ok());
  storage::CaKey record;
  record.fingerprint = fresh->public_key().FingerprintSha256();
  record.purpose = storage::CaKeyPurpose::kUser;
  record.public_key = fresh->public_key().ToAuthorizedKeysLine("other");
  record.state = storage::CaKeyState::kActive;
  ASSERT_TRUE(env->store().RotateCaKey(record).ok());

  env->clock().Advance(CaKeyring::kKeyListTtl);
  auto later = env->Login("admin", env->admin_password());
  ASSERT_TRUE(later.status.ok());
  const auto& user_ca = later.response.ca_public_keys().user_ca();
  ASSERT_EQ(user_ca.size(), 2);
  EXPECT_EQ(user_ca[0].fingerprint(), ours);  // our signing key first
  EXPECT_EQ(user_ca[1].fingerprint(), record.fingerprint);
  EXPECT_TRUE(user_ca[1].active());
}

// Rotating without an outage (docs/operations.md): the operator makes the
// next key with ssh-keygen, has the targets trust it, and puts it in place
// of the key file while the CA is stopped. At start the CA makes it the
// active key and retires the previous one, which stays trusted; the
// previous file put back is refused.
TEST(AdminServiceTest, AKeyFileReplacedWhileStoppedIsARotation) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  const std::string state = env->dir() + "/state";
  const std::string user_path = state + "/user_ca";
  auto before = env->store().ListCaKeys(storage::CaKeyPurpose::kUser);
  ASSERT_TRUE(before.ok() && before->size() == 1) << before.status();
  const std::string old_fp = (*before)[0].fingerprint;

  const std::string next = env->dir() + "/user_ca.next";
  ASSERT_TRUE(sallyport::testing::RunCommandOk(
                  {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                   "sallyport-user-ca", "-f", next})
                  .ok());
  auto next_key = ssh::crypto::PrivateKey::LoadFile(next);
  ASSERT_TRUE(next_key.ok()) << next_key.status();
  const std::string new_fp = next_key->public_key().FingerprintSha256();
  std::filesystem::rename(user_path, user_path + ".old");
  std::filesystem::copy_file(next, user_path);

  CaKeyring::Options o;
  o.user_key_path = user_path;
  o.host_key_path = state + "/host_ca";
  o.store = &env->store();
  o.clock = &env->clock();
  auto keyring = CaKeyring::Create(o);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  auto after = env->store().ListCaKeys(storage::CaKeyPurpose::kUser);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), 2u);
  for (const storage::CaKey& k : *after) {
    EXPECT_EQ(k.state, k.fingerprint == new_fp ? storage::CaKeyState::kActive
                                               : storage::CaKeyState::kRetired)
        << k.fingerprint;
  }
  auto trusted = (*keyring)->TrustedKeys(storage::CaKeyPurpose::kUser);
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  ASSERT_EQ(trusted->size(), 2u);
  EXPECT_EQ((*trusted)[0].fingerprint, new_fp);  // signs from now on
  EXPECT_EQ((*trusted)[1].fingerprint, old_fp);  // still trusted

  // The old file back: refused, it was retired.
  std::filesystem::remove(user_path);
  std::filesystem::rename(user_path + ".old", user_path);
  auto again = CaKeyring::Create(o);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition)
      << again.status();
  EXPECT_TRUE(absl::StrContains(again.status().message(), "was retired"))
      << again.status();
}

TEST(AdminServiceTest, WatchRevocationsStreamsNewRevocations) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto reader = v1::CertificateAuthority::NewStub(admin.channel)
                    ->WatchRevocations(&watch_ctx, {});
  pb::RevokeRequest revoke;
  revoke.set_key_fingerprint(
      "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  revoke.set_reason("test");
  pb::RevokedEntry entry;
  grpc::ClientContext ctx;
  ASSERT_TRUE(
      pb::Admin::NewStub(admin.channel)->Revoke(&ctx, revoke, &entry).ok());
  v1::Revocation got;
  ASSERT_TRUE(reader->Read(&got));
  EXPECT_EQ(got.id(), entry.id());
  EXPECT_EQ(got.key_fingerprint(), revoke.key_fingerprint());
  watch_ctx.TryCancel();
  while (reader->Read(&got)) {
  }
  reader->Finish();
}

TEST(AdminServiceTest, HostCertificatesForInventoryHostsOnly) {
  AdminAndBob ca = StartWithAdminAndBob();
  ASSERT_TRUE(ca.ok());
  auto& [env, admin, bob] = ca;
  pb::Host host;
  host.set_name("web01");
  host.set_address("10.0.0.5");
  pb::Host created;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(pb::Admin::NewStub(admin.channel)
                    ->CreateHost(&ctx, host, &created)
                    .ok());
  }
  EXPECT_EQ(created.port(), 22u);
  EXPECT_EQ(created.trust(), "host-ca");
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  v1::IssueHostCertificateRequest req;
  req.set_host("web01");
  req.set_ssh_public_key(key->public_key().ToAuthorizedKeysLine());
  auto issue = [&](std::shared_ptr<grpc::Channel> ch,
                   v1::IssueHostCertificateResponse* out) {
    grpc::ClientContext ctx;
    return v1::CertificateAuthority::NewStub(ch)->IssueHostCertificate(
        &ctx, req, out);
  };
  v1::IssueHostCertificateResponse resp;
  ASSERT_TRUE(issue(admin.channel, &resp).ok());
  auto cert = ssh::cert::Certificate::FromLine(resp.ssh_certificate());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->type, ssh::cert::CertType::kHost);
  EXPECT_EQ(cert->principals, (std::vector<std::string>{"web01", "10.0.0.5"}));
  EXPECT_EQ(cert->CaFingerprint(),
            admin.response.ca_public_keys().host_ca(0).fingerprint());
  EXPECT_EQ(issue(bob.channel, &resp).error_code(),
            StatusCode::PERMISSION_DENIED);
  req.set_host("web02");
  EXPECT_EQ(issue(admin.channel, &resp).error_code(), StatusCode::NOT_FOUND);
}

// kMaxPasswordBytes for the passwords an admin sets: at the limit it is
// taken, one byte more is INVALID_ARGUMENT.
TEST(AdminServiceTest, PasswordsAreTakenUpToTheLimit) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  auto stub = pb::Admin::NewStub(admin.channel);
  const std::string longest(kMaxPasswordBytes, 'z');
  pb::CreateUserRequest create;
  create.mutable_user()->set_name("long");
  create.set_password(longest + "z");
  pb::User created;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub->CreateUser(&ctx, create, &created).error_code(),
              StatusCode::INVALID_ARGUMENT);
  }
  create.set_password(longest);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->CreateUser(&ctx, create, &created).ok());
  }
  EXPECT_TRUE(created.has_password());
}

// ListJoinTokens pages of at most kMaxTokenListLimit: with one token more
// in the store, a call at the limit gets exactly a full page (and the next
// page the rest), the default page is kDefaultTokenListLimit, and a limit
// above the maximum (or below 1) is INVALID_ARGUMENT naming the range (the
// store's refusal, the one check of the limit).
TEST(AdminServiceTest, JoinTokenListsStopAtTheLimit) {
  // On tmpfs when there is one: ten thousand durable commits there take
  // a second instead of most of a minute on disk.
  std::error_code ec;
  auto dir = std::filesystem::is_directory("/dev/shm", ec)
                 ? sallyport::testing::TempDir::Create("ca-tokens", "/dev/shm")
                 : sallyport::testing::TempDir::Create("ca-tokens");
  ASSERT_TRUE(dir.ok()) << dir.status();
  CaTestEnv::Options options;
  options.store_url = "sqlite://" + dir->File("sallyport.db");
  auto created = CaTestEnv::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<CaTestEnv> env = std::move(*created);
  constexpr int kMax = AdminService::kMaxTokenListLimit;
  for (int i = 0; i <= kMax; ++i) {
    storage::NewJoinToken t;
    t.token = base::SecretBytes::FromString(
        absl::StrCat("join-token-", i, "-", std::string(32, 'x')));
    t.purpose = "host";
    t.created_by = "admin";
    t.expires_at = env->clock().Now() + absl::Hours(1);
    ASSERT_TRUE(env->store().CreateJoinToken(t).ok());
  }
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  auto stub = pb::Admin::NewStub(admin.channel);
  const auto list = [&](int limit, int64_t after_id,
                        pb::ListJoinTokensResponse* out) {
    pb::ListJoinTokensRequest request;
    request.set_limit(limit);
    request.set_after_id(after_id);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    return stub->ListJoinTokens(&ctx, request, out);
  };
  pb::ListJoinTokensResponse page;
  ASSERT_TRUE(list(kMax, 0, &page).ok());
  ASSERT_EQ(page.tokens_size(), kMax);
  pb::ListJoinTokensResponse rest;
  ASSERT_TRUE(list(kMax, page.tokens(kMax - 1).id(), &rest).ok());
  EXPECT_EQ(rest.tokens_size(), 1);
  pb::ListJoinTokensResponse by_default;
  ASSERT_TRUE(list(0, 0, &by_default).ok());
  EXPECT_EQ(by_default.tokens_size(), AdminService::kDefaultTokenListLimit);
  for (int bad : {kMax + 1, -1}) {
    pb::ListJoinTokensResponse refused;
    grpc::Status st = list(bad, 0, &refused);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(st.error_message(), "limit must be 1..10000");
  }
}

// A session CA key added to an existing CA (keys.session_ca): registered at
// the next start as the active session key, and it signs from then on; it
// must be a key of its own, and a CA without one has no session signer.
TEST(AdminServiceTest, ASessionKeyFileIsRegisteredAndMustBeItsOwnKey) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  const std::string state = env->dir() + "/state";
  CaKeyring::Options o;
  o.user_key_path = state + "/user_ca";
  o.host_key_path = state + "/host_ca";
  o.store = &env->store();
  o.clock = &env->clock();
  auto without = CaKeyring::Create(o);
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_FALSE((*without)->Has(storage::CaKeyPurpose::kSession));
  EXPECT_EQ((*without)->SessionSigner(), storage::CaKeyPurpose::kUser);
  EXPECT_EQ((*without)->Rotate(storage::CaKeyPurpose::kSession).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The user CA key again as the session key: refused (hosts trusting it
  // would take users' own certificates, the point of the key).
  o.session_key_path = o.user_key_path;
  auto same = CaKeyring::Create(o);
  EXPECT_EQ(same.status().code(), absl::StatusCode::kInvalidArgument)
      << same.status();
  auto listed = env->store().ListCaKeys(storage::CaKeyPurpose::kSession);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());

  o.session_key_path = state + "/session_ca";
  ASSERT_TRUE(sallyport::testing::RunCommandOk(
                  {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                   "sallyport-session-ca", "-f", o.session_key_path})
                  .ok());
  auto with = CaKeyring::Create(o);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ((*with)->SessionSigner(), storage::CaKeyPurpose::kSession);
  listed = env->store().ListCaKeys(storage::CaKeyPurpose::kSession);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].fingerprint,
            (*with)
                ->ActivePublicKey(storage::CaKeyPurpose::kSession)
                .FingerprintSha256());
  EXPECT_EQ((*listed)[0].state, storage::CaKeyState::kActive);
}

}  // namespace
}  // namespace sallyport::ca
