// AuthorizeChannel and jumps (issue 11 "Gateway RPCs"): the CA re-verifies
// the user certificate the gateway forwards and decides with the RBAC
// engine, one audited decision per channel or jump. On SQLite and on a
// real PostgreSQL server (gateway_session_fixture.h).
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ca/audit_log.h"
#include "ca/gateway_service.h"
#include "ca/gateway_session_fixture.h"
#include "ca/gateway_test_util.h"
#include "ca/presented_cert.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ca {
namespace {

using audit::kEventJumpAllowed;
using grpc::StatusCode;
using testing::RunCommand;
using testing::RunCommandOk;
namespace gw = gateway::v1;

class GatewayAuthorizeTest : public GatewaySessionTest {};

TEST_P(GatewayAuthorizeTest, AuthorizeChannelDecidesWithRbac) {
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "shell");
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.role(), "ops");
  EXPECT_EQ(a.user(), "alice");
  EXPECT_EQ(a.record(), "always");
  EXPECT_FALSE(a.certificate_revoked());
  EXPECT_EQ(a.host().address(), "127.0.0.1");
  EXPECT_EQ(a.host().port(), sshd_->port());
  EXPECT_EQ(a.host().trust(), "host-ca");

  a = Authorize(login_, "web01", "sftp");
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(absl::StrContains(a.reason(), "sftp")) << a.reason();
  a = Authorize("dbadmin", "db01", "port-forward", "10.0.0.1:5432");
  EXPECT_TRUE(a.allowed()) << a.reason();
  a = Authorize(login_, "app01", "shell");
  EXPECT_FALSE(a.allowed());
  a = Authorize(login_, "nosuch", "shell");
  EXPECT_FALSE(a.allowed());
  a = Authorize(login_, "web01;id", "shell");
  EXPECT_FALSE(a.allowed());
  // Each refusal is an audit event.
  EXPECT_EQ(CountEvents(kEventAccessDenied, "\"method\""), 0);
  EXPECT_EQ(CountEvents(kEventAccessDenied, "\"kind\""), 4);

  // A certificate from another CA is refused by the CA itself.
  auto other = testing::GenerateKey(dir_->path(), "other_ca");
  ASSERT_TRUE(other.ok());
  auto forged = testing::SignWithSshKeygen(
      other->private_path, ephemeral_.public_path, "alice", login_);
  ASSERT_TRUE(forged.ok()) << forged.status();
  gw::AuthorizeChannelRequest request;
  request.set_user_certificate(testing::ReadFileOrEmpty(*forged));
  request.set_login(login_);
  request.set_host("web01");
  request.set_kind("shell");
  grpc::ClientContext ctx;
  gw::AuthorizeChannelResponse response;
  ASSERT_TRUE(gw::Gateway::NewStub(gateway_.channel)
                  ->AuthorizeChannel(&ctx, request, &response)
                  .ok());
  EXPECT_FALSE(response.allowed());
  // And a user certificate is no gateway identity.
  grpc::ClientContext ctx2;
  EXPECT_EQ(gw::Gateway::NewStub(alice_.channel)
                ->AuthorizeChannel(&ctx2, request, &response)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
}

// kMaxUserCertificateBytes: a certificate line of that length (a long
// comment) is read and decided; one byte more is refused unread.
TEST_P(GatewayAuthorizeTest, UserCertificateLinesUpToTheLimitAreRead) {
  std::string line(
      absl::StripTrailingAsciiWhitespace(alice_.response.ssh_certificate()));
  const size_t fields = std::count(line.begin(), line.end(), ' ');
  line += fields >= 2 ? "-" : " ";  // into (or as) the comment
  line.resize(kMaxUserCertificateBytes, 'c');
  gw::AuthorizeChannelRequest request;
  request.set_login(login_);
  request.set_host("web01");
  request.set_kind("shell");
  for (const std::string& cert : {line, line + "c"}) {
    request.set_user_certificate(cert);
    grpc::ClientContext ctx;
    gw::AuthorizeChannelResponse response;
    const grpc::Status st = gw::Gateway::NewStub(gateway_.channel)
                                ->AuthorizeChannel(&ctx, request, &response);
    if (cert.size() == kMaxUserCertificateBytes) {
      ASSERT_TRUE(st.ok()) << st.error_message();
      EXPECT_TRUE(response.allowed()) << response.reason();
    } else {
      EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
      EXPECT_TRUE(absl::StrContains(st.error_message(), "too long"))
          << st.error_message();
    }
  }
}

TEST_P(GatewayAuthorizeTest, AJumpIsOneDecisionForItsHostByNameOrAddress) {
  const uint32_t ssh_port = sshd_->port();
  const std::string passthrough_event = "\"kind\":\"proxyjump-passthrough\"";
  const std::string forward_event = "\"kind\":\"port-forward\"";
  // web01's SSH port: a jump (ops does not allow proxyjump-passthrough,
  // so it is recorded).
  gw::AuthorizeChannelResponse a = Jump(login_, "web01", ssh_port);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  EXPECT_EQ(a.kind(), "proxyjump-passthrough");
  EXPECT_EQ(a.host().name(), "web01");
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"mode\":\"record\""), 1);
  // By its address and port: the same host, the same decision.
  a = Jump(login_, "127.0.0.1", ssh_port);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  EXPECT_EQ(a.kind(), "proxyjump-passthrough");
  EXPECT_EQ(a.host().name(), "web01");
  EXPECT_EQ(a.host().port(), ssh_port);
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"mode\":\"record\""), 2);
  EXPECT_EQ(CountEvents(kEventAccessDenied, passthrough_event), 0);
  // Another port of a host is one port-forward decision to HOST:PORT, and
  // no proxyjump-passthrough event: db allows it on db01...
  a = Jump("dbadmin", "db01", 5432);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.kind(), "port-forward");
  EXPECT_EQ(a.host().name(), "db01");
  // ...ops does not on web01: one event, of kind port-forward.
  a = Jump(login_, "web01", 5432);
  EXPECT_FALSE(a.allowed());
  EXPECT_EQ(a.kind(), "port-forward");
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_EQ(CountEvents(kEventAccessDenied, passthrough_event), 0);
  EXPECT_EQ(CountEvents(kEventAccessDenied, forward_event), 1);
  EXPECT_EQ(CountEvents(kEventAccessDenied, "web01:5432"), 1);
  // db01 and app01 share 127.0.0.1:22 (and web01 has 127.0.0.1 too): an
  // address that names no single host is refused, saying why.
  for (uint32_t port : {22u, 9u}) {
    a = Jump("dbadmin", "127.0.0.1", port);
    EXPECT_FALSE(a.allowed());
    EXPECT_TRUE(a.host().name().empty());
    EXPECT_TRUE(absl::StrContains(a.reason(), "several inventory hosts"))
        << a.reason();
  }
  // An address no inventory host has.
  a = Jump(login_, "127.0.0.2", 22);
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.host().name().empty());
  EXPECT_TRUE(absl::StrContains(a.reason(), "not in the inventory"))
      << a.reason();
  // jump_port goes with proxyjump-passthrough only.
  grpc::Status st;
  Authorize("dbadmin", "db01", "port-forward", "db01:5432", 5432, &st);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
}

// How a jump is carried is the CA's decision, with one accurate event:
// passthrough when a role allows it, recorded when a role reaches the host
// but none passes it through (never an authz.denied for that), refused
// with the reason otherwise.
TEST_P(GatewayAuthorizeTest, AJumpIsPassedThroughRecordedOrRefusedOnce) {
  const std::string passthrough_event = "\"kind\":\"proxyjump-passthrough\"";
  // Recorded: ops reaches web01 without proxyjump-passthrough.
  gw::AuthorizeChannelResponse a = Jump(login_, "web01", sshd_->port());
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"host\":\"web01\""), 1);
  EXPECT_EQ(CountEvents(kEventAccessDenied), 0);
  // No single role decides a recorded jump (its channels are each decided
  // inside): the event's reason names the roles that reach the host.
  EXPECT_EQ(CountEvents(kEventJumpAllowed,
                        "\"reason\":\"the jump to web01 is recorded (your "
                        "roles do not allow proxyjump-passthrough"),
            1);
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "(\\\"ops\\\")"), 1);
  // Refused: no role selects app01 (the reason says so; no recorded jump).
  a = Jump(login_, "app01", 22);
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_TRUE(absl::StrContains(a.reason(), "app01")) << a.reason();
  EXPECT_EQ(CountEvents(kEventAccessDenied, passthrough_event), 1);
  EXPECT_EQ(
      CountEvents(kEventAccessDenied, "\"code\":\"no-role-selects-host\""), 1);
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "app01"), 0);
  // Passthrough: once db allows it on db01.
  auto db = env_->store().GetRole("db");
  ASSERT_TRUE(db.ok()) << db.status();
  db->channels.push_back(storage::ChannelKind::kProxyJumpPassthrough);
  ASSERT_TRUE(env_->store().UpdateRole(*db).ok());
  a = Jump("dbadmin", "db01", 22);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "passthrough");
  EXPECT_EQ(a.role(), "db");
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"mode\":\"passthrough\""), 1);
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"role\":\"db\""), 1);
  // A deny rule naming the passthrough kind leaves the jump recorded; one
  // for every kind refuses it.
  db->deny = {storage::DenyRule{
      .logins = {},
      .hosts = {storage::HostSelector{.labels = {}, .name_globs = {"db01"}}},
      .channels = {storage::ChannelKind::kProxyJumpPassthrough}}};
  ASSERT_TRUE(env_->store().UpdateRole(*db).ok());
  a = Jump("dbadmin", "db01", 22);
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.jump_mode(), "record");
  db->deny[0].channels.clear();
  ASSERT_TRUE(env_->store().UpdateRole(*db).ok());
  a = Jump("dbadmin", "db01", 22);
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_EQ(CountEvents(kEventAccessDenied, "\"code\":\"denied-by-rule\""), 1);
  // A revoked certificate: refused, whatever the roles say.
  storage::Revocation r;
  r.serial = alice_.response.serial();
  r.reason = "lost laptop";
  r.revoked_by = "admin";
  ASSERT_TRUE(env_->store().Revoke(r).ok());
  a = Jump(login_, "web01", sshd_->port());
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(a.certificate_revoked());
  EXPECT_TRUE(a.jump_mode().empty());
  EXPECT_EQ(CountEvents(kEventJumpAllowed, "\"host\":\"web01\""), 1);
}

// `record: never` (issue 11): both RPCs carry it to the gateway when every
// role that allows the request says never; one allowing role that says
// always wins (recording is the safe side). A role that does not allow the
// request (db: other logins and hosts) has no say.
TEST_P(GatewayAuthorizeTest, RecordNeverReachesTheGatewayAndAlwaysWins) {
  absl::StatusOr<storage::Role> ops = env_->store().GetRole("ops");
  ASSERT_TRUE(ops.ok()) << ops.status();
  ops->record = storage::RecordMode::kNever;
  ASSERT_TRUE(env_->store().UpdateRole(*ops).ok());
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "exec");
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.record(), "never");
  gw::IssueSessionCertificateResponse issued;
  grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &issued);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(issued.record(), "never");

  storage::Role recorded = *ops;
  recorded.name = "ops-recorded";
  recorded.record = storage::RecordMode::kAlways;
  recorded.channels = {storage::ChannelKind::kExec};
  ASSERT_TRUE(env_->store().CreateRole(recorded).ok());
  ASSERT_TRUE(env_->store().BindRole("alice", "ops-recorded").ok());
  a = Authorize(login_, "web01", "exec");
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_EQ(a.record(), "always");
  // A shell only ops allows: never for that channel decision...
  EXPECT_EQ(Authorize(login_, "web01", "shell").record(), "never");
  // ...but the session, which may carry the exec, is recorded.
  st = IssueSession(gateway_.channel, login_, "web01", &issued, "s-5678");
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(issued.record(), "always");
}

// A deleted and recreated name does not inherit the old user's
// certificates at the gateway either (PeerAuthenticator already refused
// them as client certificates): a certificate issued before the user of
// its name was created is refused by AuthorizeChannel and
// IssueSessionCertificate, though it is unrevoked (a delete whose
// revocation failed, or a certificate issued while the delete ran).
TEST_P(GatewayAuthorizeTest, ARecreatedUserDoesNotInheritTheOldCertificates) {
  ASSERT_TRUE(Authorize(login_, "web01", "shell").allowed());
  ASSERT_TRUE(env_->store().DeleteUser("alice").ok());
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "shell");
  EXPECT_FALSE(a.allowed());
  EXPECT_TRUE(absl::StrContains(a.reason(), "no longer exists")) << a.reason();
  env_->clock().Advance(absl::Seconds(1));
  ASSERT_TRUE(env_->AddUser("alice", "alice-pw2", {"ops", "db"}).ok());

  a = Authorize(login_, "web01", "shell");
  EXPECT_FALSE(a.allowed());
  EXPECT_FALSE(a.certificate_revoked());
  EXPECT_TRUE(absl::StrContains(a.reason(), "earlier user")) << a.reason();
  gw::IssueSessionCertificateResponse issued;
  grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &issued);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "earlier user"))
      << st.error_message();

  // The new alice's own certificate is hers.
  alice_ = env_->Login("alice", "alice-pw2");
  ASSERT_TRUE(alice_.status.ok()) << alice_.status.error_message();
  a = Authorize(login_, "web01", "shell");
  EXPECT_TRUE(a.allowed()) << a.reason();
  st = IssueSession(gateway_.channel, login_, "web01", &issued);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

// Only a login certificate this CA issued is accepted, though another
// one signed with the same user CA key (ssh-keygen -s with a copied key,
// bypassing the issuance and its cert.issued event) verifies: one with a
// serial the CA never issued is refused, and so is one that reuses an
// issued serial but differs from what was issued (more principals, another
// key), and a session certificate's serial. AuthorizeChannel and
// IssueSessionCertificate both refuse, each refusal audited; alice's own
// certificate is still allowed.
TEST_P(GatewayAuthorizeTest, OnlyCertificatesThisCaIssuedAreAccepted) {
  const std::string real_line(
      absl::StripTrailingAsciiWhitespace(alice_.response.ssh_certificate()));
  absl::StatusOr<ssh::cert::Certificate> real =
      ssh::cert::Certificate::FromLine(real_line);
  ASSERT_TRUE(real.ok()) << real.status();
  const std::string user_ca = env_->dir() + "/state/user_ca";
  const std::string alice_pub = dir_->File("alice.pub");
  ASSERT_TRUE(testing::WriteFile(alice_pub, alice_.ssh_public_key + "\n").ok());
  auto other = testing::GenerateKey(dir_->path(), "other");
  ASSERT_TRUE(other.ok()) << other.status();
  // ssh-keygen writes NAME-cert.pub next to the key: one copy per case.
  const auto sign = [&](const std::string& name, const std::string& pub,
                        const std::string& principals, uint64_t serial) {
    const std::string copy = dir_->File(name + ".pub");
    EXPECT_TRUE(testing::WriteFile(copy, testing::ReadFileOrEmpty(pub)).ok());
    absl::StatusOr<std::string> path = testing::SignWithSshKeygen(
        user_ca, copy, real->key_id, principals, "-5m:+1h", /*host=*/false,
        {"-z", absl::StrCat(serial)});
    EXPECT_TRUE(path.ok()) << path.status();
    return std::string(absl::StripTrailingAsciiWhitespace(
        testing::ReadFileOrEmpty(path.value_or(""))));
  };
  const std::string principals = absl::StrJoin(real->principals, ",");
  struct Case {
    std::string what;
    std::string line;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"a serial the CA never issued",
       sign("unissued", alice_pub, principals, real->serial + 1000000),
       "was not issued by this CA"},
      {"alice's serial with one more principal",
       sign("wider", alice_pub, principals + ",root", real->serial),
       "other principals"},
      {"alice's serial on another key",
       sign("otherkey", other->public_path, principals, real->serial),
       "another key"},
  };
  // A session certificate's serial, on alice's key and principals.
  gw::IssueSessionCertificateResponse session;
  ASSERT_TRUE(IssueSession(gateway_.channel, login_, "web01", &session).ok());
  absl::StatusOr<ssh::cert::Certificate> session_cert =
      ssh::cert::Certificate::FromLine(session.certificate().ssh_certificate());
  ASSERT_TRUE(session_cert.ok()) << session_cert.status();
  cases.push_back({"a session certificate's serial",
                   sign("session", alice_pub, principals, session_cert->serial),
                   "not a login certificate"});

  const int denied_before =
      CountEvents(kEventAccessDenied, "\"certificate-refused\"");
  const int refused_before = CountEvents(kEventCertRefused);
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_FALSE(c.line.empty());
    absl::StatusOr<ssh::cert::Certificate> forged =
        ssh::cert::Certificate::FromLine(c.line);
    ASSERT_TRUE(forged.ok()) << forged.status();
    // It verifies against the user CA key like alice's own.
    ASSERT_EQ(forged->CaFingerprint(), real->CaFingerprint());
    alice_.response.set_ssh_certificate(c.line);
    gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "shell");
    EXPECT_FALSE(a.allowed());
    EXPECT_TRUE(absl::StrContains(a.reason(), c.reason)) << a.reason();
    ++n;
    EXPECT_EQ(CountEvents(kEventAccessDenied, "\"certificate-refused\""),
              denied_before + n);
    // The key signs the userauth proof (alice's, or the other key's).
    const bool other_key = c.what == "alice's serial on another key";
    absl::StatusOr<ssh::crypto::PrivateKey> key =
        ssh::crypto::PrivateKey::LoadFile(other->private_path);
    ASSERT_TRUE(key.ok()) << key.status();
    const UserauthProof proof =
        SignedLogin(login_ + "+web01", other_key ? &*key : nullptr, c.line);
    gw::IssueSessionCertificateResponse issued;
    grpc::Status st = IssueSession(gateway_.channel, login_, "web01", &issued,
                                   absl::StrCat("s-forged-", n), &proof);
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(), c.reason))
        << st.error_message();
    EXPECT_EQ(CountEvents(kEventCertRefused), refused_before + n);
  }

  // Alice's own certificate: allowed.
  alice_.response.set_ssh_certificate(real_line);
  gw::AuthorizeChannelResponse a = Authorize(login_, "web01", "shell");
  EXPECT_TRUE(a.allowed()) << a.reason();
  EXPECT_TRUE(
      IssueSession(gateway_.channel, login_, "web01", &session, "s-alice-again")
          .ok());
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(GatewayAuthorizeTest);

}  // namespace
}  // namespace sallyport::ca
