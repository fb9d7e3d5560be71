#include "ca/cert_policy.h"

#include "ca/rbac/names.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"

namespace sallyport::ca {
namespace {

using storage::ChannelKind;
using storage::Role;
using storage::User;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

User Alice() {
  User u;
  u.name = "alice";
  return u;
}

Role MakeRole(std::string name, std::vector<std::string> logins,
              std::vector<ChannelKind> channels,
              absl::Duration max_ttl = absl::Hours(8)) {
  Role r;
  r.name = std::move(name);
  r.logins = std::move(logins);
  r.channels = std::move(channels);
  r.max_ttl = max_ttl;
  return r;
}

std::vector<std::string> ExtensionNames(const UserCertificateTemplate& t) {
  std::vector<std::string> names;
  for (const auto& e : t.extensions) {
    EXPECT_TRUE(e.data.empty()) << e.name;
    names.push_back(e.name);
  }
  return names;
}

TEST(CertPolicyTest, EightHoursBackdatedOneMinute) {
  auto t = DecideUserCertificate(
      Alice(), {MakeRole("dev", {"alice"}, {ChannelKind::kShell})}, kNow, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->key_id, "alice");
  EXPECT_EQ(t->valid_after, kNow - absl::Minutes(1));
  EXPECT_EQ(t->valid_before, kNow + absl::Hours(8));
  EXPECT_EQ(t->principals, std::vector<std::string>{"alice"});
}

TEST(CertPolicyTest, ShortestRoleTtlWins) {
  auto t =
      DecideUserCertificate(Alice(),
                            {MakeRole("dev", {"alice"}, {}, absl::Hours(24)),
                             MakeRole("prod", {"deploy"}, {}, absl::Hours(1))},
                            kNow, {});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->valid_before, kNow + absl::Hours(1));
  // The configured cap applies even when every role allows more.
  auto capped = DecideUserCertificate(
      Alice(), {MakeRole("dev", {"alice"}, {}, absl::Hours(24))}, kNow,
      {.max_ttl = absl::Hours(2)});
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->valid_before, kNow + absl::Hours(2));
}

TEST(CertPolicyTest, NotAfterCapsValidity) {
  auto t = DecideUserCertificate(Alice(), {MakeRole("dev", {"alice"}, {})},
                                 kNow, {}, kNow + absl::Minutes(30));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->valid_before, kNow + absl::Minutes(30));
  auto expired = DecideUserCertificate(
      Alice(), {MakeRole("dev", {"alice"}, {})}, kNow, {}, kNow);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CertPolicyTest, PrincipalsAreTheSortedUnionOfLogins) {
  auto t = DecideUserCertificate(
      Alice(),
      {MakeRole("a", {"web", "alice"}, {}), MakeRole("b", {"alice", "db"}, {}),
       MakeRole("admin", {}, {})},
      kNow, {});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->principals, (std::vector<std::string>{"alice", "db", "web"}));
}

// A role stored before the admin API checked logins may name ones RBAC
// refuses: they are no principals; with no valid login left, no
// certificate.
TEST(CertPolicyTest, LoginsRbacRefusesAreNoPrincipals) {
  auto t = DecideUserCertificate(
      Alice(), {MakeRole("old", {"a;b", "-x", "ro ot", "web"}, {})}, kNow, {});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->principals, std::vector<std::string>{"web"});
  EXPECT_EQ(
      DecideUserCertificate(Alice(), {MakeRole("old", {"a;b"}, {})}, kNow, {})
          .status()
          .code(),
      absl::StatusCode::kPermissionDenied);
}

TEST(CertPolicyTest, ExtensionsFollowChannelKinds) {
  auto none = DecideUserCertificate(
      Alice(), {MakeRole("sftp", {"alice"}, {ChannelKind::kSftp})}, kNow, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->extensions.empty());

  auto exec = DecideUserCertificate(
      Alice(), {MakeRole("ci", {"alice"}, {ChannelKind::kExec})}, kNow, {});
  ASSERT_TRUE(exec.ok());
  EXPECT_EQ(ExtensionNames(*exec), std::vector<std::string>{"permit-pty"});

  auto all = DecideUserCertificate(
      Alice(),
      {MakeRole("x", {"alice"}, {ChannelKind::kPortForward}),
       MakeRole("y", {"alice"},
                {ChannelKind::kShell, ChannelKind::kAgentForward})},
      kNow, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(ExtensionNames(*all),
            (std::vector<std::string>{"permit-agent-forwarding",
                                      "permit-port-forwarding", "permit-pty"}));
  for (const auto& name : ExtensionNames(*all)) {
    EXPECT_NE(name, ssh::cert::kPermitUserRc);
    EXPECT_NE(name, ssh::cert::kPermitX11Forwarding);
  }
}

TEST(CertPolicyTest, RefusesDisabledUsersAndUsersWithoutRolesOrLogins) {
  User disabled = Alice();
  disabled.disabled = true;
  EXPECT_EQ(DecideUserCertificate(disabled, {MakeRole("dev", {"alice"}, {})},
                                  kNow, {})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(DecideUserCertificate(Alice(), {}, kNow, {}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(DecideUserCertificate(Alice(), {MakeRole("dev", {}, {})}, kNow, {})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

// An administrator or auditor whose roles grant no logins gets a
// certificate for spctl: its one principal is no login (never an empty
// list, which OpenSSH takes as every login), without extensions.
TEST(CertPolicyTest, StaffWithoutLoginsGetTheNoLoginPrincipal) {
  for (const char* role : {"admin", "auditor"}) {
    absl::StatusOr<UserCertificateTemplate> t = DecideUserCertificate(
        Alice(), {MakeRole(role, {}, {}), MakeRole("empty", {}, {})}, kNow, {});
    ASSERT_TRUE(t.ok()) << role << ": " << t.status();
    EXPECT_EQ(t->principals,
              std::vector<std::string>{std::string(rbac::kNoLoginPrincipal)});
    EXPECT_TRUE(t->extensions.empty());
    EXPECT_FALSE(rbac::ValidateLogin(t->principals[0]).ok());
  }
  // With logins, those are the principals.
  absl::StatusOr<UserCertificateTemplate> t = DecideUserCertificate(
      Alice(), {MakeRole("admin", {}, {}), MakeRole("dev", {"ubuntu"}, {})},
      kNow, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->principals, std::vector<std::string>{"ubuntu"});
}

TEST(CertPolicyTest, RefusesBadPolicy) {
  EXPECT_EQ(DecideUserCertificate(Alice(), {MakeRole("dev", {"alice"}, {})},
                                  kNow, {.max_ttl = absl::ZeroDuration()})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sallyport::ca
