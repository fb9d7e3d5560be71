// The admin API's guards: an admin cannot lock the admins out (the admin
// role, a role they hold, disabling themselves); disabling a user revokes
// their certificates; display names carry no control characters; join
// tokens live at least a second. Real gRPC/TLS against an in-process CA.
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "ca/admin_api_fixture.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace pb = admin::v1;

class AdminGuardsTest : public AdminApiTest {};

// An admin cannot lock the admins out: the admin role cannot be deleted,
// nor a role the calling admin holds (their `login` role: without it they
// could not log in again for a certificate), and an admin cannot disable
// themselves. Each was accepted before, and nothing but editing the
// database undid it.
TEST_F(AdminGuardsTest, AdminsCannotLockThemselvesOut) {
  auto delete_role = [&](const std::string& name) {
    grpc::ClientContext ctx;
    pb::DeleteRoleRequest request;
    request.set_name(name);
    google::protobuf::Empty out;
    return stub->DeleteRole(&ctx, request, &out);
  };
  grpc::Status st = delete_role("admin");
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "the admin role cannot be deleted");
  st = delete_role("login");
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(st.error_message(),
                                "an admin cannot delete a role they hold"))
      << st.error_message();
  EXPECT_TRUE(env->store().GetRole("admin").ok());
  EXPECT_TRUE(env->store().GetRole("login").ok());
  // A role the admin does not hold can go.
  ASSERT_TRUE(env->AddRole("tmp", {"www"}).ok());
  EXPECT_TRUE(delete_role("tmp").ok());
  {
    grpc::ClientContext ctx;
    pb::User self, out;
    self.set_name("admin");
    self.set_disabled(true);
    st = stub->UpdateUser(&ctx, self, &out);
    EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(st.error_message(), "an admin cannot disable themselves");
  }
  EXPECT_FALSE(env->store().GetUser("admin")->disabled);
  {
    grpc::ClientContext ctx;
    pb::ListUsersResponse users;
    EXPECT_TRUE(stub->ListUsers(&ctx, {}, &users).ok());
  }
}

// Display names are printed in admins' terminals: control characters
// (an escape sequence would act there, a newline break the table) and
// names over 256 bytes are refused, on create and on edit.
TEST_F(AdminGuardsTest, DisplayNamesWithoutControlCharacters) {
  auto create = [&](const std::string& name, const std::string& display) {
    grpc::ClientContext ctx;
    pb::CreateUserRequest request;
    request.mutable_user()->set_name(name);
    request.mutable_user()->set_display_name(display);
    pb::User out;
    return stub->CreateUser(&ctx, request, &out);
  };
  EXPECT_TRUE(create("u1", "Ünal Çelik (ops)").ok());
  EXPECT_TRUE(create("u3", "Анна Иванова / 张伟").ok());
  // Bidirectional controls and invisible characters make a name read as
  // another (Trojan Source): "admin" + RLO + "nimda" shows as "adminadmin".
  for (const std::string& bad : {std::string("evil\n\x1b[31mred"),
                                 std::string("a\tb"), std::string("x\x7f"),
                                 std::string("c1 \xc2\x9b"
                                             "31m"),
                                 std::string("admin\xe2\x80\xaenimda"),
                                 std::string("\xe2\x81\xa7"
                                             "Eve\xe2\x81\xa9"),
                                 std::string("Ad\xe2\x80\x8bmin"),
                                 std::string("\xef\xbb\xbf"
                                             "Bob"),
                                 std::string("Bo\xc2\xad"
                                             "b"),
                                 std::string(257, 'a')}) {
    grpc::Status st = create("u2", bad);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << bad;
  }
  EXPECT_FALSE(env->store().GetUser("u2").ok());
  grpc::ClientContext ctx;
  pb::User edit, out;
  edit.set_name("u1");
  edit.set_display_name("\x1b]0;owned\x07");
  EXPECT_EQ(stub->UpdateUser(&ctx, edit, &out).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(env->store().GetUser("u1")->display_name, "Ünal Çelik (ops)");
  // An edit of the display name is in the audit event (it read like a
  // change of nothing).
  grpc::ClientContext ctx2;
  edit.set_display_name("Ünal Ç.");
  ASSERT_TRUE(stub->UpdateUser(&ctx2, edit, &out).ok());
  EXPECT_EQ(CountAuditEvents(env->store(), "admin.UpdateUser", {"Ünal Ç."}), 1);

  // A name stored before the rule (here written to the store directly)
  // is sent back unchanged by `spctl users disable`: the user can still be
  // disabled and enabled. A new name is checked.
  absl::StatusOr<storage::User> stored = env->store().GetUser("u3");
  ASSERT_TRUE(stored.ok());
  stored->display_name = "Ad\xe2\x80\x8bmin";
  ASSERT_TRUE(env->store().UpdateUser(*stored, std::nullopt).ok());
  for (bool disabled : {true, false}) {
    grpc::ClientContext c;
    pb::User old_name;
    old_name.set_name("u3");
    old_name.set_display_name("Ad\xe2\x80\x8bmin");
    old_name.set_disabled(disabled);
    EXPECT_TRUE(stub->UpdateUser(&c, old_name, &out).ok()) << disabled;
    EXPECT_EQ(env->store().GetUser("u3")->disabled, disabled);
  }
  grpc::ClientContext c3;
  pb::User other_bad;
  other_bad.set_name("u3");
  other_bad.set_display_name("Ad\xe2\x80\x8b\xe2\x80\x8bmin");
  EXPECT_EQ(stub->UpdateUser(&c3, other_bad, &out).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

// A role's description and a revocation's reason are shown by spctl
// (roles ls, certs show) too: no control characters either.
TEST_F(AdminGuardsTest, DescriptionsAndReasonsWithoutControlCharacters) {
  auto create_role = [&](const std::string& name, const std::string& text) {
    grpc::ClientContext ctx;
    pb::Role role;
    role.set_name(name);
    role.set_description(text);
    pb::Role out;
    return stub->CreateRole(&ctx, role, &out);
  };
  auto revoke = [&](const std::string& reason) {
    grpc::ClientContext ctx;
    pb::RevokeRequest request;
    request.set_serial(4242);
    request.set_reason(reason);
    pb::RevokedEntry out;
    return stub->Revoke(&ctx, request, &out);
  };
  auto revoke_user = [&](const std::string& reason) {
    grpc::ClientContext ctx;
    pb::RevokeUserCertificatesRequest request;
    request.set_user("admin");
    request.set_reason(reason);
    pb::RevokeUserCertificatesResponse out;
    return stub->RevokeUserCertificates(&ctx, request, &out);
  };
  EXPECT_TRUE(create_role("ops", "Ops \xe2\x80\x94 production").ok());
  EXPECT_TRUE(revoke("laptop stolen \xe2\x80\x94 ticket 42").ok());
  for (const std::string& bad :
       {std::string("line\nbreak"), std::string("a\x1b]0;owned\x07"),
        std::string("a\r"), std::string("a\x7f"),
        std::string("c1 \xc2\x9b"
                    "2J"),
        std::string("rm -rf /\xe2\x80\xae"
                    "txt.eman"),
        std::string("\xe2\x80\xa8")}) {
    grpc::Status st = create_role("bad", bad);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_TRUE(absl::StrContains(st.error_message(),
                                  "role description: control characters"))
        << st.error_message();
    st = revoke(bad);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_TRUE(absl::StrContains(st.error_message(),
                                  "revocation reason: control characters"))
        << st.error_message();
    st = revoke_user(bad);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << bad;
  }
  EXPECT_FALSE(env->store().GetRole("bad").ok());
}

// A join token's TTL is at least a second: 0.5 s was cut to 0 by spctl,
// which the CA took for "the default" (1 h), a longer token than asked.
TEST_F(AdminGuardsTest, JoinTokensLiveAtLeastASecond) {
  auto create = [&](int64_t seconds, int32_t nanos) {
    grpc::ClientContext ctx;
    pb::CreateJoinTokenRequest request;
    request.set_purpose("host");
    request.mutable_ttl()->set_seconds(seconds);
    request.mutable_ttl()->set_nanos(nanos);
    pb::CreateJoinTokenResponse out;
    return stub->CreateJoinToken(&ctx, request, &out);
  };
  EXPECT_EQ(create(0, 500'000'000).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create(-1, 0).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(create(1, 0).ok());
  EXPECT_TRUE(create(0, 0).ok());  // unset: the default
}

// ListRevocations with current_only (what `sp config`'s KRL asks for)
// leaves out the serials of certificates the CA recorded that have expired;
// keys and serials of no recorded certificate stay. Without it, all.
TEST_F(AdminGuardsTest, CurrentOnlyRevocationsLeaveOutExpiredCertificates) {
  ASSERT_TRUE(env->AddUser("dave", "dave-pw", {"login"}).ok());
  auto dave = env->Login("dave", "dave-pw");
  ASSERT_TRUE(dave.status.ok()) << dave.status.error_message();
  const absl::Time now = env->clock().Now();
  storage::IssuedCertificate old;
  old.serial = 0x7000000000000001ULL;
  old.key_id = "web09";
  old.principals = {"web09"};
  old.valid_after = now - absl::Hours(48);
  old.valid_before = now - absl::Hours(24);
  old.public_key_fingerprint = "SHA256:old-host-key";
  old.ca_key_fingerprint = "SHA256:host-ca";
  old.purpose = storage::CertificatePurpose::kHost;
  ASSERT_TRUE(env->store().RecordCertificate(old).ok());
  for (uint64_t serial : {old.serial, uint64_t{0x7000000000000002ULL}}) {
    storage::Revocation r;
    r.serial = serial;
    r.revoked_by = "admin";
    ASSERT_TRUE(env->store().Revoke(r).ok());
  }
  const auto serials = [&](bool current_only) {
    grpc::ClientContext ctx;
    v1::ListRevocationsRequest request;
    request.set_current_only(current_only);
    v1::ListRevocationsResponse response;
    grpc::Status st = v1::CertificateAuthority::NewStub(dave.channel)
                          ->ListRevocations(&ctx, request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<uint64_t> out;
    for (const v1::Revocation& r : response.revocations()) {
      if (r.target_case() == v1::Revocation::kSerial) out.push_back(r.serial());
    }
    return out;
  };
  EXPECT_EQ(serials(false),
            (std::vector<uint64_t>{old.serial, 0x7000000000000002ULL}));
  EXPECT_EQ(serials(true), (std::vector<uint64_t>{0x7000000000000002ULL}));
}

// Disabling a user revokes their certificates, so their open connections
// end on every gateway at once (a gateway authorizes a session's own
// shell/exec/sftp channels with its certificate, not per channel); before,
// they kept opening channels on an open connection until it closed.
// Enabling them again revokes nothing; they log in again.
TEST_F(AdminGuardsTest, DisablingAUserRevokesTheirCertificates) {
  ASSERT_TRUE(env->AddUser("bob", "bob-pw", {"login"}).ok());
  auto bob = env->Login("bob", "bob-pw");
  ASSERT_TRUE(bob.status.ok());
  auto bob_cert =
      ssh::cert::Certificate::FromLine(bob.response.ssh_certificate());
  ASSERT_TRUE(bob_cert.ok());
  auto set_disabled = [&](bool disabled) {
    grpc::ClientContext ctx;
    pb::User user, out;
    user.set_name("bob");
    user.set_disabled(disabled);
    return stub->UpdateUser(&ctx, user, &out);
  };
  EXPECT_FALSE(
      *env->store().IsRevoked(bob_cert->serial, bob_cert->KeyFingerprint()));
  ASSERT_TRUE(set_disabled(true).ok());
  EXPECT_TRUE(
      *env->store().IsRevoked(bob_cert->serial, bob_cert->KeyFingerprint()));
  auto revoked = env->store().ListRevocations(0);
  ASSERT_TRUE(revoked.ok());
  ASSERT_FALSE(revoked->empty());
  EXPECT_EQ(revoked->back().reason, "user disabled");
  EXPECT_EQ(revoked->back().revoked_by, "admin");
  EXPECT_FALSE(env->Login("bob", "bob-pw").status.ok());
  ASSERT_TRUE(set_disabled(false).ok());
  auto again = env->Login("bob", "bob-pw");
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  auto again_cert =
      ssh::cert::Certificate::FromLine(again.response.ssh_certificate());
  ASSERT_TRUE(again_cert.ok());
  EXPECT_FALSE(*env->store().IsRevoked(again_cert->serial,
                                       again_cert->KeyFingerprint()));
}

// Runs `sql` on the CA's SQLite database through a connection of its own.
absl::Status ExecSql(CaTestEnv& env, const std::string& sql) {
  const std::string path = env.dir() + "/state/ca.db";
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  char* err = nullptr;
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  absl::Status s = rc == SQLITE_OK
                       ? absl::OkStatus()
                       : absl::InternalError(err ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  sqlite3_close(db);
  return s;
}

// Disabling or deleting a user first stops the CA issuing to them, then
// revokes their certificates: one issued between the revocation's last
// page and the update (revoked first, as before) survived unrevoked, good
// on hosts that trust the user CA for up to 8 h and at the gateway again
// once they were enabled. No deterministic race is possible here, so the
// order is checked in the store itself: a trigger refuses every
// revocation made while bob could still get a certificate (exists and is
// enabled), which is what the CA's issuance checks.
TEST_F(AdminGuardsTest,
       AUserIsDisabledOrDeletedBeforeTheirCertificatesAreRevoked) {
  ASSERT_TRUE(env->AddUser("bob", "bob-pw", {"login"}).ok());
  ASSERT_TRUE(ExecSql(*env,
                      "CREATE TRIGGER revoked_while_issuable BEFORE INSERT ON "
                      "revocations WHEN EXISTS (SELECT 1 FROM users WHERE "
                      "name = 'bob' AND disabled = 0) BEGIN SELECT "
                      "RAISE(ABORT, 'revoked while bob could get "
                      "certificates'); END")
                  .ok());
  auto login = [&] {
    auto bob = env->Login("bob", "bob-pw");
    EXPECT_TRUE(bob.status.ok()) << bob.status.error_message();
    return bob.response.serial();
  };
  auto revoked = [&](uint64_t serial) {
    absl::StatusOr<bool> r = env->store().IsRevoked(serial, "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && *r;
  };
  auto set_disabled = [&](bool disabled) {
    grpc::ClientContext ctx;
    pb::User user, out;
    user.set_name("bob");
    user.set_disabled(disabled);
    return stub->UpdateUser(&ctx, user, &out);
  };

  const uint64_t first = login();
  grpc::Status st = set_disabled(true);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(env->store().GetUser("bob")->disabled);
  EXPECT_TRUE(revoked(first));

  ASSERT_TRUE(set_disabled(false).ok());
  const uint64_t second = login();
  grpc::ClientContext ctx;
  pb::DeleteUserRequest request;
  request.set_name("bob");
  google::protobuf::Empty out;
  st = stub->DeleteUser(&ctx, request, &out);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(env->store().GetUser("bob").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(revoked(second));
}

// UpdateUser and UpdateRole apply to the version their caller read
// (updated_at, as spctl sends it back): an edit made from an old read is
// ABORTED instead of undoing a change made since. Before, spctl's read,
// change, write let `users edit` enable a user another admin had just
// disabled.
TEST_F(AdminGuardsTest, AnUpdateFromAnOldReadDoesNotUndoAChangeMadeSince) {
  ASSERT_TRUE(env->AddUser("carol", "carol-password-1", {}).ok());
  auto get = [&] {
    grpc::ClientContext ctx;
    pb::GetUserRequest request;
    request.set_name("carol");
    pb::User out;
    EXPECT_TRUE(stub->GetUser(&ctx, request, &out).ok());
    return out;
  };
  auto update = [&](const pb::User& user) {
    grpc::ClientContext ctx;
    pb::User out;
    return stub->UpdateUser(&ctx, user, &out);
  };
  const pb::User read = get();
  ASSERT_TRUE(read.has_updated_at());
  pb::User disable = read;
  disable.set_disabled(true);
  ASSERT_TRUE(update(disable).ok());
  pb::User stale_edit = read;  // disabled: false, as read before
  stale_edit.set_display_name("Carol");
  grpc::Status st = update(stale_edit);
  EXPECT_EQ(st.error_code(), StatusCode::ABORTED) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "was changed at"))
      << st.error_message();
  EXPECT_TRUE(env->store().GetUser("carol")->disabled);
  EXPECT_EQ(env->store().GetUser("carol")->display_name, "");
  // The same edit from a fresh read applies, and keeps the user disabled.
  pb::User fresh = get();
  fresh.set_display_name("Carol");
  ASSERT_TRUE(update(fresh).ok());
  EXPECT_TRUE(env->store().GetUser("carol")->disabled);
  EXPECT_EQ(env->store().GetUser("carol")->display_name, "Carol");
  // Without updated_at the update is unconditional, as before.
  pb::User plain;
  plain.set_name("carol");
  plain.set_disabled(true);
  EXPECT_TRUE(update(plain).ok());

  ASSERT_TRUE(env->AddRole("web", {"www"}).ok());
  pb::Role role;
  {
    grpc::ClientContext ctx;
    pb::GetRoleRequest request;
    request.set_name("web");
    ASSERT_TRUE(stub->GetRole(&ctx, request, &role).ok());
  }
  auto update_role = [&](const pb::Role& r) {
    grpc::ClientContext ctx;
    pb::Role out;
    return stub->UpdateRole(&ctx, r, &out);
  };
  pb::Role first = role;
  first.add_logins("deploy");
  ASSERT_TRUE(update_role(first).ok());
  pb::Role second = role;
  second.set_description("made from the first read");
  EXPECT_EQ(update_role(second).error_code(), StatusCode::ABORTED);
  EXPECT_EQ(env->store().GetRole("web")->logins,
            (std::vector<std::string>{"www", "deploy"}));
  EXPECT_EQ(env->store().GetRole("web")->description, "");
}

// spctl hosts edit|label read the host, change what was asked and send it
// back with the updated_at they read: an edit made from an old read is
// ABORTED and changes nothing, so it cannot undo another admin's (here: put
// back the pinned key replaced meanwhile); from a fresh read it applies.
TEST_F(AdminGuardsTest, AHostEditFromAnOldReadDoesNotUndoAChangeMadeSince) {
  auto old_key = ssh::crypto::PrivateKey::GenerateEd25519();
  auto new_key = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(old_key.ok() && new_key.ok());
  const std::string old_line = old_key->public_key().ToAuthorizedKeysLine();
  const std::string new_line = new_key->public_key().ToAuthorizedKeysLine();
  auto update = [&](const pb::Host& host) {
    grpc::ClientContext ctx;
    pb::Host out;
    return stub->UpdateHost(&ctx, host, &out);
  };
  auto get = [&] {
    grpc::ClientContext ctx;
    pb::GetHostRequest request;
    request.set_name("web01");
    pb::Host out;
    EXPECT_TRUE(stub->GetHost(&ctx, request, &out).ok());
    return out;
  };
  pb::Host host;
  host.set_name("web01");
  host.set_address("10.0.0.5");
  host.set_trust("pinned-key");
  host.set_host_key(old_line);
  {
    grpc::ClientContext ctx;
    pb::Host out;
    ASSERT_TRUE(stub->CreateHost(&ctx, host, &out).ok());
  }
  const pb::Host read = get();
  ASSERT_TRUE(read.has_updated_at());
  pb::Host rekey = read;
  rekey.set_host_key(new_line);
  ASSERT_TRUE(update(rekey).ok());
  pb::Host stale_edit = read;  // the old key, as read before
  stale_edit.set_address("10.0.0.6");
  const grpc::Status st = update(stale_edit);
  EXPECT_EQ(st.error_code(), StatusCode::ABORTED) << st.error_message();
  EXPECT_TRUE(
      absl::StrContains(st.error_message(), "host 'web01' was changed at"))
      << st.error_message();
  EXPECT_EQ(env->store().GetHost("web01")->host_key, new_line);
  EXPECT_EQ(env->store().GetHost("web01")->address, "10.0.0.5");
  // The same edit from a fresh read applies, and keeps the new key.
  pb::Host fresh = get();
  fresh.set_address("10.0.0.6");
  ASSERT_TRUE(update(fresh).ok());
  EXPECT_EQ(env->store().GetHost("web01")->host_key, new_line);
  EXPECT_EQ(env->store().GetHost("web01")->address, "10.0.0.6");
  // Without updated_at the update is unconditional, as before.
  EXPECT_TRUE(update(host).ok());
  EXPECT_EQ(env->store().GetHost("web01")->host_key, old_line);
}

// "Bob" beside "bob" would be two users to the store and one name to an
// auditor reading a listing or a certificate's key id: a user or role
// whose name differs from an existing one only by case is refused.
TEST_F(AdminGuardsTest, NamesThatDifferOnlyByCaseAreRefused) {
  ASSERT_TRUE(env->AddUser("bob", "bob-password-123", {}).ok());
  auto create_user = [&](const std::string& name) {
    grpc::ClientContext ctx;
    pb::CreateUserRequest request;
    request.mutable_user()->set_name(name);
    pb::User out;
    return stub->CreateUser(&ctx, request, &out);
  };
  grpc::Status st = create_user("Bob");
  EXPECT_EQ(st.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(st.error_message(),
            "user Bob differs from the existing user bob only by case: use "
            "bob or another name");
  EXPECT_FALSE(env->store().GetUser("Bob").ok());
  EXPECT_EQ(create_user("bob").error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(create_user("bob2").ok());

  ASSERT_TRUE(env->AddRole("Ops", {"ubuntu"}).ok());
  auto create_role = [&](const std::string& name) {
    grpc::ClientContext ctx;
    pb::Role role;
    role.set_name(name);
    role.add_logins("ubuntu");
    pb::Role out;
    return stub->CreateRole(&ctx, role, &out);
  };
  st = create_role("ops");
  EXPECT_EQ(st.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "only by case"));
  EXPECT_FALSE(env->store().GetRole("ops").ok());
  EXPECT_TRUE(create_role("ops-eu").ok());
}

}  // namespace
}  // namespace sallyport::ca
