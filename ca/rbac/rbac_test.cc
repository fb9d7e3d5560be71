// EffectivePermissions and the lookup contract of Decide.
#include "ca/rbac/rbac.h"

#include "ca/rbac/rbac_test_util.h"
#include "gtest/gtest.h"

namespace sallyport::ca::rbac {
namespace {

using storage::ChannelKind;
using storage::RecordMode;
using testing::HostNamed;
using testing::Roles;
using testing::UserNamed;

std::vector<std::string> Names(const std::vector<ssh::cert::CertOption>& o) {
  std::vector<std::string> out;
  for (const auto& e : o) {
    EXPECT_TRUE(e.data.empty());
    out.push_back(e.name);
  }
  return out;
}

TEST(EffectivePermissionsTest, UnionOfAllowingRolesMinusDenies) {
  // ops allows every kind as ubuntu on db01, but deny[1] takes
  // agent-forward away; dba does not grant ubuntu.
  Permissions p = EffectivePermissions(UserNamed("erin"), Roles({"dba", "ops"}),
                                       "ubuntu", "db01", HostNamed("db01"));
  ASSERT_TRUE(p.decision.allowed) << p.decision.reason;
  EXPECT_EQ(p.kinds, (std::vector<ChannelKind>{
                         ChannelKind::kShell, ChannelKind::kExec,
                         ChannelKind::kSftp, ChannelKind::kPortForward,
                         ChannelKind::kProxyJumpPassthrough}));
  EXPECT_EQ(Names(p.extensions),
            (std::vector<std::string>{"permit-port-forwarding", "permit-pty"}));
  EXPECT_EQ(p.roles, std::vector<std::string>{"ops"});
  EXPECT_EQ(p.record, RecordMode::kAlways);
  EXPECT_EQ(p.max_ttl, absl::Hours(8));
}

// recpol (issue 14): the recording policy of the contributing roles
// reaches the decision: strict wins over best_effort, record_input true
// over false, unset when no role says.
TEST(EffectivePermissionsTest, RecordingPolicyFromContributingRoles) {
  storage::Role dev = testing::RoleNamed("web-dev");
  storage::Role rec = testing::RoleNamed("web-rec");
  dev.record_mode = storage::RecordFailureMode::kBestEffort;
  rec.record_mode = storage::RecordFailureMode::kBestEffort;
  auto decide = [&] {
    return EffectivePermissions(UserNamed("ivan"), {dev, rec}, "ubuntu",
                                "web02", HostNamed("web02"));
  };
  Permissions p = decide();
  ASSERT_TRUE(p.decision.allowed) << p.decision.reason;
  EXPECT_EQ(p.decision.record_mode, storage::RecordFailureMode::kBestEffort);
  EXPECT_FALSE(p.decision.record_input.has_value());
  rec.record_mode = storage::RecordFailureMode::kStrict;
  dev.record_input = false;
  p = decide();
  EXPECT_EQ(p.decision.record_mode, storage::RecordFailureMode::kStrict);
  EXPECT_EQ(p.decision.record_input, std::optional<bool>(false));
  rec.record_input = true;
  p = decide();
  EXPECT_EQ(p.decision.record_input, std::optional<bool>(true));
  // Decide carries the same for one channel kind.
  AccessRequest request;
  request.login = "ubuntu";
  request.host = "web02";
  request.kind = ChannelKind::kShell;
  Decision d =
      Decide(UserNamed("ivan"), {dev, rec}, request, HostNamed("web02"));
  ASSERT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(d.record_mode, storage::RecordFailureMode::kStrict);
  EXPECT_EQ(d.record_input, std::optional<bool>(true));
}

// Step 6: a role's force_command replaces shell, exec and sftp when every
// role that allows the kind forces the same command; a role that forces
// nothing lifts it; roles forcing different commands refuse the kind with
// a reason. Other kinds are never forced. The session certificate's
// force-command is set only when every allowed session kind forces the
// same command.
TEST(EffectivePermissionsTest, ForceCommandFromTheAllowingRoles) {
  storage::Role dev = testing::RoleNamed("web-dev");  // shell, exec, sftp
  storage::Role rec = testing::RoleNamed("web-rec");  // shell
  auto decide = [&](ChannelKind kind) {
    AccessRequest request;
    request.login = "ubuntu";
    request.host = "web02";
    request.kind = kind;
    return Decide(UserNamed("ivan"), {dev, rec}, request, HostNamed("web02"));
  };
  auto permissions = [&] {
    return EffectivePermissions(UserNamed("ivan"), {dev, rec}, "ubuntu",
                                "web02", HostNamed("web02"));
  };
  EXPECT_FALSE(decide(ChannelKind::kExec).force_command.has_value());
  EXPECT_FALSE(permissions().force_command.has_value());

  dev.force_command = "/usr/local/bin/backup";
  Decision exec = decide(ChannelKind::kExec);
  ASSERT_TRUE(exec.allowed) << exec.reason;
  EXPECT_EQ(exec.force_command, dev.force_command);
  EXPECT_NE(exec.reason.find("forced"), std::string::npos) << exec.reason;
  EXPECT_EQ(decide(ChannelKind::kSftp).force_command, dev.force_command);
  // web-rec allows shell too and forces nothing: the shell is the user's.
  Decision shell = decide(ChannelKind::kShell);
  ASSERT_TRUE(shell.allowed) << shell.reason;
  EXPECT_FALSE(shell.force_command.has_value());
  Permissions p = permissions();
  ASSERT_TRUE(p.decision.allowed) << p.decision.reason;
  EXPECT_FALSE(p.force_command.has_value());  // the kinds differ

  rec.force_command = dev.force_command;
  EXPECT_EQ(decide(ChannelKind::kShell).force_command, dev.force_command);
  EXPECT_EQ(permissions().force_command, dev.force_command);

  rec.force_command = "/bin/sh -c 'other'";
  shell = decide(ChannelKind::kShell);
  EXPECT_FALSE(shell.allowed);
  EXPECT_EQ(shell.code, Reason::kForceCommandConflict);
  EXPECT_EQ(shell.role, "web-rec");
  EXPECT_EQ(shell.rule, "force_command");
  EXPECT_NE(shell.reason.find("force different commands"), std::string::npos)
      << shell.reason;
  // Only web-dev allows exec and sftp: still forced, and the certificate
  // carries it for the kinds that remain.
  EXPECT_EQ(decide(ChannelKind::kExec).force_command, dev.force_command);
  p = permissions();
  ASSERT_TRUE(p.decision.allowed) << p.decision.reason;
  EXPECT_EQ(p.kinds,
            (std::vector<ChannelKind>{ChannelKind::kExec, ChannelKind::kSftp}));
  EXPECT_EQ(p.force_command, dev.force_command);

  // Port forwarding is never forced.
  storage::Role ops = testing::RoleNamed("ops");
  ops.force_command = "/bin/true";
  AccessRequest forward;
  forward.login = "ubuntu";
  forward.host = "db01";
  forward.kind = ChannelKind::kPortForward;
  forward.destination = ForwardDestination{"127.0.0.1", 5432};
  Decision f = Decide(UserNamed("erin"), {ops}, forward, HostNamed("db01"));
  ASSERT_TRUE(f.allowed) << f.reason;
  EXPECT_FALSE(f.force_command.has_value());
}

TEST(EffectivePermissionsTest, AgentForwardingExtension) {
  Permissions p =
      EffectivePermissions(UserNamed("bob"), Roles({"ops"}), "ubuntu",
                           "bastion-1", HostNamed("bastion-1"));
  ASSERT_TRUE(p.decision.allowed);
  EXPECT_EQ(Names(p.extensions),
            (std::vector<std::string>{"permit-agent-forwarding",
                                      "permit-port-forwarding", "permit-pty"}));
}

TEST(EffectivePermissionsTest, SftpOnlyGetsNoExtension) {
  storage::Role r = testing::RoleNamed("web-dev");
  r.channels = {ChannelKind::kSftp};
  Permissions p = EffectivePermissions(UserNamed("alice"), {r}, "ubuntu",
                                       "web02", HostNamed("web02"));
  ASSERT_TRUE(p.decision.allowed);
  EXPECT_TRUE(p.extensions.empty());
  EXPECT_EQ(p.kinds, std::vector<ChannelKind>{ChannelKind::kSftp});
}

TEST(EffectivePermissionsTest, RecordAndTtlFromContributingRoles) {
  // web-dev (never, 4 h) and web-rec (always, 8 h) both allow ubuntu on
  // web02: recording wins, the shorter TTL wins.
  Permissions p =
      EffectivePermissions(UserNamed("ivan"), Roles({"web-dev", "web-rec"}),
                           "ubuntu", "web02", HostNamed("web02"));
  ASSERT_TRUE(p.decision.allowed);
  EXPECT_EQ(p.record, RecordMode::kAlways);
  EXPECT_EQ(p.max_ttl, absl::Hours(4));
  EXPECT_EQ(p.roles, (std::vector<std::string>{"web-dev", "web-rec"}));
  // web-dev alone: never.
  Permissions dev = EffectivePermissions(UserNamed("ivan"), Roles({"web-dev"}),
                                         "ubuntu", "web02", HostNamed("web02"));
  EXPECT_EQ(dev.record, RecordMode::kNever);
  // A role that does not contribute (web-prod: does not select web02) does
  // not shorten the TTL.
  Permissions mixed =
      EffectivePermissions(UserNamed("alice"), Roles({"web-dev", "web-prod"}),
                           "deploy", "web02", HostNamed("web02"));
  EXPECT_EQ(mixed.max_ttl, absl::Hours(4));
}

TEST(EffectivePermissionsTest, RefusalsSayWhy) {
  EXPECT_EQ(
      EffectivePermissions(UserNamed("alice"), Roles({"web-dev", "web-prod"}),
                           "ubuntu", "web01", HostNamed("web01"))
          .decision.code,
      Reason::kLoginNotAllowed);
  EXPECT_EQ(EffectivePermissions(UserNamed("alice"), Roles({"web-dev"}),
                                 "ubuntu", "db01", HostNamed("db01"))
                .decision.code,
            Reason::kNoRoleSelectsHost);
  EXPECT_EQ(EffectivePermissions(UserNamed("carol", true), Roles({"ops"}),
                                 "root", "bastion-1", HostNamed("bastion-1"))
                .decision.code,
            Reason::kUserDisabled);
  EXPECT_EQ(EffectivePermissions(UserNamed("bob"), Roles({"ops"}), "root",
                                 "x;y", std::nullopt)
                .decision.code,
            Reason::kInvalidHostName);
  // root on prod: deny[0] of ops takes every kind.
  Permissions p = EffectivePermissions(UserNamed("bob"), Roles({"ops"}), "root",
                                       "web01", HostNamed("web01"));
  EXPECT_FALSE(p.decision.allowed);
  EXPECT_EQ(p.decision.code, Reason::kDeniedByRule);
  EXPECT_EQ(p.decision.reason,
            "role \"ops\" denies every channel as \"root\" on \"web01\" "
            "(deny[0]); deny rules win over every allow");
  EXPECT_EQ(p.decision.rule, "deny[0]");
  EXPECT_TRUE(p.kinds.empty());
  EXPECT_TRUE(p.extensions.empty());
  // No kinds at all.
  Permissions none =
      EffectivePermissions(UserNamed("gina"), Roles({"auditor"}), "ubuntu",
                           "web02", HostNamed("web02"));
  EXPECT_EQ(none.decision.code, Reason::kKindNotAllowed);
  EXPECT_EQ(none.decision.reason,
            "your roles allow no channel kind as \"ubuntu\" on \"web02\"");
}

TEST(EffectivePermissionsTest, AgreesWithDecideForEveryKind) {
  const std::vector<std::string> users_roles[] = {{"dba", "ops"},
                                                  {"web-dev", "web-prod"},
                                                  {"ops", "freeze"},
                                                  {"web-dev", "web-rec"},
                                                  {"auditor"}};
  for (const auto& role_names : users_roles) {
    for (const auto& [name, host] : testing::Inventory()) {
      for (std::string login : {"ubuntu", "root", "deploy", "postgres"}) {
        Permissions p = EffectivePermissions(UserNamed("u"), Roles(role_names),
                                             login, name, host);
        for (ChannelKind k :
             {ChannelKind::kShell, ChannelKind::kExec, ChannelKind::kSftp,
              ChannelKind::kPortForward, ChannelKind::kAgentForward,
              ChannelKind::kProxyJumpPassthrough}) {
          AccessRequest req{login, name, k, std::nullopt};
          if (k == ChannelKind::kPortForward) {
            req.destination = ForwardDestination{"localhost", 80};
          }
          Decision d = Decide(UserNamed("u"), Roles(role_names), req, host);
          const bool listed =
              std::find(p.kinds.begin(), p.kinds.end(), k) != p.kinds.end();
          EXPECT_EQ(d.allowed, listed)
              << login << "@" << name << " " << storage::ChannelKindName(k);
        }
      }
    }
  }
}

TEST(DecideLookupTest, LookupErrorsPassThrough) {
  absl::StatusOr<Decision> d = Decide(
      UserNamed("bob"), Roles({"ops"}),
      AccessRequest{"ubuntu", "web01", ChannelKind::kShell, std::nullopt},
      [](std::string_view) -> absl::StatusOr<std::optional<storage::Host>> {
        return absl::UnavailableError("database is down");
      });
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
}

TEST(DecideLookupTest, RecordWithAnotherNameIsUnknown) {
  Decision d = Decide(
      UserNamed("bob"), Roles({"ops"}),
      AccessRequest{"ubuntu", "web01", ChannelKind::kShell, std::nullopt},
      HostNamed("bastion-1"));
  EXPECT_EQ(d.code, Reason::kUnknownHost);
}

TEST(ReasonNameTest, StableCodes) {
  EXPECT_EQ(ReasonName(Reason::kAllowed), "allowed");
  EXPECT_EQ(ReasonName(Reason::kDeniedByRule), "denied-by-rule");
  EXPECT_EQ(ReasonName(Reason::kForceCommandConflict),
            "force-command-conflict");
  EXPECT_EQ(ReasonName(Reason::kNoRoleSelectsHost), "no-role-selects-host");
}

TEST(ParseForwardDestinationTest, HostPortAndBracketedV6) {
  auto a = ParseForwardDestination("db.internal:5432");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "db.internal");
  EXPECT_EQ(a->port, 5432u);
  auto b = ParseForwardDestination("[::1]:22");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "::1");
  for (const char* bad : {"", "host", ":22", "host:", "host:0", "host:65536",
                          "host:2x", "a;b:22", "[::1]22"}) {
    EXPECT_FALSE(ParseForwardDestination(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace sallyport::ca::rbac
