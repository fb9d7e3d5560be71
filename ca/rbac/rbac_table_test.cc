// The RBAC decision table (issue 11: ≥ 40 cases, each with its expected
// reason). Inventory and roles: rbac_test_util.h.
#include <optional>
#include <string>
#include <vector>

#include "base/safe_text.h"
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

constexpr ChannelKind kShell = ChannelKind::kShell;
constexpr ChannelKind kExec = ChannelKind::kExec;
constexpr ChannelKind kSftp = ChannelKind::kSftp;
constexpr ChannelKind kFwd = ChannelKind::kPortForward;
constexpr ChannelKind kAgent = ChannelKind::kAgentForward;
constexpr ChannelKind kJump = ChannelKind::kProxyJumpPassthrough;

struct Case {
  std::string name;
  std::string user;
  std::vector<std::string> roles;
  std::string login;
  std::string host;
  ChannelKind kind;
  std::optional<ForwardDestination> destination;
  Reason code;
  std::string reason;
  std::string role = "";
  std::string rule = "";
  RecordMode record = RecordMode::kAlways;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const std::vector<std::string> kAlice = {"web-dev", "web-prod"};
const std::vector<std::string> kBob = {"ops"};

std::string Long300() {
  std::string s;
  while (s.size() < 300) s += std::string(49, 'a') + ".";
  s.resize(300);
  return s;
}

std::string Valid253() {
  const std::string l63(63, 'a');
  return l63 + "." + l63 + "." + l63 + "." + std::string(61, 'a');
}

std::string Allow(std::string_view role, std::string_view kind,
                  std::string_view login, std::string_view host,
                  std::string_view rule) {
  return "role \"" + std::string(role) + "\" allows " + std::string(kind) +
         " as \"" + std::string(login) + "\" on \"" + std::string(host) +
         "\" (" + std::string(rule) + ")";
}

std::string BadHost(std::string_view echoed, std::string_view why) {
  return "host name " + std::string(echoed) +
         " is not valid: " + std::string(why);
}

const char kBadChars[] = "only letters, digits, '-' and '.' are allowed";
const char kEmptyLabel[] =
    "it has an empty label (a leading, trailing or doubled '.')";
const char kNoSelect[] =
    "; ask an administrator for a role whose host selectors match it";
const char kNotInInventory[] =
    " is not in the inventory; check the name or ask an administrator to "
    "add the host";

std::vector<Case> Cases() {
  using D = ForwardDestination;
  return {
      // ---- allows: labels, globs, several selectors
      {"labels_select_staging",
       "alice",
       kAlice,
       "ubuntu",
       "web02",
       kShell,
       {},
       Reason::kAllowed,
       Allow("web-dev", "shell", "ubuntu", "web02", "hosts[0]"),
       "web-dev",
       "hosts[0]",
       RecordMode::kNever},
      {"second_login_of_role",
       "alice",
       kAlice,
       "deploy",
       "web02",
       kExec,
       {},
       Reason::kAllowed,
       Allow("web-dev", "exec", "deploy", "web02", "hosts[0]"),
       "web-dev",
       "hosts[0]",
       RecordMode::kNever},
      {"label_and_glob_both_match",
       "alice",
       kAlice,
       "deploy",
       "web01",
       kExec,
       {},
       Reason::kAllowed,
       Allow("web-prod", "exec", "deploy", "web01", "hosts[0]"),
       "web-prod",
       "hosts[0]"},
      {"glob_ignores_case",
       "alice",
       kAlice,
       "deploy",
       "Web03",
       kExec,
       {},
       Reason::kAllowed,
       Allow("web-prod", "exec", "deploy", "Web03", "hosts[0]"),
       "web-prod",
       "hosts[0]"},
      {"glob_question_mark",
       "bob",
       kBob,
       "root",
       "bastion-1",
       kShell,
       {},
       Reason::kAllowed,
       Allow("ops", "shell", "root", "bastion-1", "hosts[0]"),
       "ops",
       "hosts[0]"},
      {"glob_star_suffix",
       "bob",
       kBob,
       "root",
       "build.lab",
       kSftp,
       {},
       Reason::kAllowed,
       Allow("ops", "sftp", "root", "build.lab", "hosts[0]"),
       "ops",
       "hosts[0]"},
      {"second_selector",
       "bob",
       kBob,
       "ubuntu",
       "web01",
       kShell,
       {},
       Reason::kAllowed,
       Allow("ops", "shell", "ubuntu", "web01", "hosts[1]"),
       "ops",
       "hosts[1]"},
      {"deny_rule_for_other_kind_does_not_apply",
       "bob",
       kBob,
       "ubuntu",
       "db01",
       kShell,
       {},
       Reason::kAllowed,
       Allow("ops", "shell", "ubuntu", "db01", "hosts[1]"),
       "ops",
       "hosts[1]"},
      {"proxyjump_passthrough",
       "bob",
       kBob,
       "ubuntu",
       "bastion-1",
       kJump,
       {},
       Reason::kAllowed,
       Allow("ops", "proxyjump-passthrough", "ubuntu", "bastion-1", "hosts[0]"),
       "ops",
       "hosts[0]"},
      {"agent_forward",
       "bob",
       kBob,
       "ubuntu",
       "bastion-1",
       kAgent,
       {},
       Reason::kAllowed,
       Allow("ops", "agent-forward", "ubuntu", "bastion-1", "hosts[0]"),
       "ops",
       "hosts[0]"},
      {"port_forward_to_ipv4", "bob", kBob, "ubuntu", "bastion-1", kFwd,
       D{"10.0.0.5", 5432}, Reason::kAllowed,
       Allow("ops", "port-forward", "ubuntu", "bastion-1", "hosts[0]"), "ops",
       "hosts[0]"},
      {"port_forward_to_ipv6", "bob", kBob, "ubuntu", "bastion-1", kFwd,
       D{"fe80::1", 22}, Reason::kAllowed,
       Allow("ops", "port-forward", "ubuntu", "bastion-1", "hosts[0]"), "ops",
       "hosts[0]"},
      {"port_forward_to_name",
       "erin",
       {"dba", "ops"},
       "postgres",
       "db01",
       kFwd,
       D{"localhost", 5432},
       Reason::kAllowed,
       Allow("dba", "port-forward", "postgres", "db01", "hosts[0]"),
       "dba",
       "hosts[0]"},
      {"first_of_several_roles",
       "erin",
       {"dba", "ops"},
       "postgres",
       "db01",
       kShell,
       {},
       Reason::kAllowed,
       Allow("dba", "shell", "postgres", "db01", "hosts[0]"),
       "dba",
       "hosts[0]"},
      {"deny_of_other_role_for_other_kind",
       "hank",
       {"ops", "freeze"},
       "ubuntu",
       "web01",
       kExec,
       {},
       Reason::kAllowed,
       Allow("ops", "exec", "ubuntu", "web01", "hosts[1]"),
       "ops",
       "hosts[1]"},
      {"deny_of_other_role_for_other_hosts",
       "hank",
       {"ops", "freeze"},
       "ubuntu",
       "bastion-1",
       kShell,
       {},
       Reason::kAllowed,
       Allow("ops", "shell", "ubuntu", "bastion-1", "hosts[0]"),
       "ops",
       "hosts[0]"},
      {"recording_wins_when_roles_disagree",
       "ivan",
       {"web-dev", "web-rec"},
       "ubuntu",
       "web02",
       kShell,
       {},
       Reason::kAllowed,
       Allow("web-dev", "shell", "ubuntu", "web02", "hosts[0]"),
       "web-dev",
       "hosts[0]",
       RecordMode::kAlways},
      {"never_when_every_allowing_role_says_never",
       "ivan",
       {"web-dev", "web-rec"},
       "ubuntu",
       "web02",
       kSftp,
       {},
       Reason::kAllowed,
       Allow("web-dev", "sftp", "ubuntu", "web02", "hosts[0]"),
       "web-dev",
       "hosts[0]",
       RecordMode::kNever},

      // ---- deny rules beat allows
      {"deny_beats_allow_same_role",
       "bob",
       kBob,
       "root",
       "web01",
       kShell,
       {},
       Reason::kDeniedByRule,
       "role \"ops\" denies shell as \"root\" on \"web01\" (deny[0]); deny "
       "rules win over every allow",
       "ops",
       "deny[0]"},
      {"deny_kind_on_glob",
       "bob",
       kBob,
       "ubuntu",
       "db01",
       kAgent,
       {},
       Reason::kDeniedByRule,
       "role \"ops\" denies agent-forward as \"ubuntu\" on \"db01\" (deny[1]); "
       "deny rules win over every allow",
       "ops",
       "deny[1]"},
      {"deny_beats_allow_of_other_role",
       "hank",
       {"ops", "freeze"},
       "ubuntu",
       "web01",
       kShell,
       {},
       Reason::kDeniedByRule,
       "role \"freeze\" denies shell as \"ubuntu\" on \"web01\" (deny[0]); "
       "deny rules win over every allow",
       "freeze",
       "deny[0]"},

      // ---- kind / login / selection
      {"kind_not_allowed",
       "alice",
       kAlice,
       "deploy",
       "web01",
       kShell,
       {},
       Reason::kKindNotAllowed,
       "your roles do not allow shell channels as \"deploy\" on \"web01\" "
       "(\"web-prod\"); allowed there: exec"},
      {"port_forward_not_allowed", "alice", kAlice, "ubuntu", "web02", kFwd,
       D{"localhost", 80}, Reason::kKindNotAllowed,
       "your roles do not allow port-forward channels as \"ubuntu\" on "
       "\"web02\" (\"web-dev\"); allowed there: shell, exec, sftp"},
      {"role_without_kinds",
       "gina",
       {"auditor"},
       "ubuntu",
       "web02",
       kShell,
       {},
       Reason::kKindNotAllowed,
       "your roles do not allow shell channels as \"ubuntu\" on \"web02\" "
       "(\"auditor\"); allowed there: none"},
      {"login_not_in_role",
       "alice",
       kAlice,
       "ubuntu",
       "web01",
       kExec,
       {},
       Reason::kLoginNotAllowed,
       "your roles that select host \"web01\" (\"web-prod\") do not allow "
       "login \"ubuntu\"; logins allowed there: \"deploy\""},
      {"login_not_in_any_role",
       "bob",
       kBob,
       "admin",
       "bastion-1",
       kShell,
       {},
       Reason::kLoginNotAllowed,
       "your roles that select host \"bastion-1\" (\"ops\") do not allow "
       "login \"admin\"; logins allowed there: \"root\", \"ubuntu\""},
      {"login_of_role_not_selecting_host",
       "erin",
       {"dba", "ops"},
       "postgres",
       "bastion-1",
       kShell,
       {},
       Reason::kLoginNotAllowed,
       "your roles that select host \"bastion-1\" (\"ops\") do not allow "
       "login \"postgres\"; logins allowed there: \"root\", \"ubuntu\""},
      {"glob_does_not_match",
       "alice",
       kAlice,
       "deploy",
       "db01",
       kExec,
       {},
       Reason::kNoRoleSelectsHost,
       std::string("none of your roles selects host \"db01\"") + kNoSelect},
      {"no_label_matches",
       "alice",
       kAlice,
       "ubuntu",
       "bastion-1",
       kShell,
       {},
       Reason::kNoRoleSelectsHost,
       std::string("none of your roles selects host \"bastion-1\"") +
           kNoSelect},
      {"label_value_differs",
       "bob",
       kBob,
       "ubuntu",
       "web02",
       kShell,
       {},
       Reason::kNoRoleSelectsHost,
       std::string("none of your roles selects host \"web02\"") + kNoSelect},
      {"role_without_selectors_selects_nothing",
       "frank",
       {"no-hosts"},
       "ubuntu",
       "web02",
       kShell,
       {},
       Reason::kNoRoleSelectsHost,
       std::string("none of your roles selects host \"web02\"") + kNoSelect},

      // ---- user and inventory
      {"disabled_user",
       "carol",
       kBob,
       "root",
       "bastion-1",
       kShell,
       {},
       Reason::kUserDisabled,
       "user \"carol\" is disabled; an administrator must enable the account"},
      {"user_without_roles",
       "dave",
       {},
       "ubuntu",
       "web02",
       kShell,
       {},
       Reason::kNoRoles,
       "user \"dave\" has no roles; ask an administrator to bind one"},
      {"unknown_host",
       "alice",
       kAlice,
       "ubuntu",
       "web99",
       kShell,
       {},
       Reason::kUnknownHost,
       std::string("host \"web99\"") + kNotInInventory},
      {"inventory_names_are_exact",
       "bob",
       kBob,
       "ubuntu",
       "WEB01",
       kShell,
       {},
       Reason::kUnknownHost,
       std::string("host \"WEB01\"") + kNotInInventory},
      {"longest_valid_name_is_looked_up",
       "bob",
       kBob,
       "ubuntu",
       Valid253(),
       kShell,
       {},
       Reason::kUnknownHost,
       "host \"" + std::string(63, 'a') + ".\"... (253 bytes)" +
           kNotInInventory},

      // ---- invalid host names (checked before any lookup)
      {"host_with_semicolon",
       "bob",
       kBob,
       "ubuntu",
       "web01;id",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web01\\x3bid\"", kBadChars)},
      {"host_with_command_substitution",
       "bob",
       kBob,
       "ubuntu",
       "$(reboot)",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"\\x24\\x28reboot\\x29\"", kBadChars)},
      {"host_with_backticks",
       "bob",
       kBob,
       "ubuntu",
       "`id`",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"\\x60id\\x60\"", kBadChars)},
      {"host_with_newline",
       "bob",
       kBob,
       "ubuntu",
       "web01\nweb02",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web01\\x0aweb02\"", kBadChars)},
      {"host_with_nul",
       "bob",
       kBob,
       "ubuntu",
       std::string("web01\0x", 7),
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web01\\x00x\"", kBadChars)},
      {"host_with_space",
       "bob",
       kBob,
       "ubuntu",
       "web01 -oProxyCommand=x",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web01\\x20-oProxyCommand\\x3dx\"", kBadChars)},
      {"host_with_dot_dot",
       "bob",
       kBob,
       "ubuntu",
       "web..01",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web..01\"", kEmptyLabel)},
      {"host_path_traversal",
       "bob",
       kBob,
       "ubuntu",
       "../etc/passwd",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"..\\x2fetc\\x2fpasswd\"", kEmptyLabel)},
      {"host_trailing_dot",
       "bob",
       kBob,
       "ubuntu",
       "web01.",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web01.\"", kEmptyLabel)},
      {"host_empty",
       "bob",
       kBob,
       "ubuntu",
       "",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"\"", "it is empty")},
      {"host_300_bytes",
       "bob",
       kBob,
       "ubuntu",
       Long300(),
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"" + std::string(49, 'a') + "." + std::string(14, 'a') +
                   "\"... (300 bytes)",
               "it is 300 bytes long, at most 253 are allowed")},
      {"host_254_bytes",
       "bob",
       kBob,
       "ubuntu",
       Valid253() + "a",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"" + std::string(63, 'a') + ".\"... (254 bytes)",
               "it is 254 bytes long, at most 253 are allowed")},
      {"host_label_64_bytes",
       "bob",
       kBob,
       "ubuntu",
       std::string(64, 'a'),
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"" + std::string(64, 'a') + "\"",
               "a label is longer than 63 bytes")},
      {"host_leading_hyphen",
       "bob",
       kBob,
       "ubuntu",
       "-web01",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"-web01\"", "a label starts or ends with '-'")},
      {"host_underscore",
       "bob",
       kBob,
       "ubuntu",
       "web_01",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web_01\"", kBadChars)},
      {"host_utf8",
       "bob",
       kBob,
       "ubuntu",
       "w\xc3\xa9"
       "b01",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"w\xc3\xa9"
               "b01\"",
               kBadChars)},
      // A name in another script is refused but reads as itself; a bidi
      // override inside one is shown byte by byte, so the reason cannot
      // read as another name.
      {"host_cyrillic",
       "bob",
       kBob,
       "ubuntu",
       "\xd1\x81\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80-01",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"\xd1\x81\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80-01\"",
               kBadChars)},
      {"host_with_rlo",
       "bob",
       kBob,
       "ubuntu",
       "db\xe2\x80\xae"
       "10bew",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"db\\xe2\\x80\\xae10bew\"", kBadChars)},
      {"host_glob_characters",
       "bob",
       kBob,
       "ubuntu",
       "web*",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"web\\x2a\"", kBadChars)},
      {"invalid_host_before_disabled_user",
       "carol",
       kBob,
       "root",
       "a;b",
       kShell,
       {},
       Reason::kInvalidHostName,
       BadHost("\"a\\x3bb\"", kBadChars)},

      // ---- invalid logins and destinations
      {"login_with_semicolon",
       "bob",
       kBob,
       "root;id",
       "bastion-1",
       kShell,
       {},
       Reason::kInvalidLogin,
       "login \"root\\x3bid\" is not valid: only letters, digits, '.', '_' "
       "and '-' are allowed"},
      {"login_cyrillic_with_zwsp",
       "bob",
       kBob,
       "\xd0\xb0\xd0\xb4\xd0\xbc\xd0\xb8\xd0\xbd\xe2\x80\x8b",
       "bastion-1",
       kShell,
       {},
       Reason::kInvalidLogin,
       "login \"\xd0\xb0\xd0\xb4\xd0\xbc\xd0\xb8\xd0\xbd\\xe2\\x80\\x8b\" is "
       "not valid: only letters, digits, '.', '_' and '-' are allowed"},
      {"login_like_an_option",
       "bob",
       kBob,
       "-oProxyCommand",
       "bastion-1",
       kShell,
       {},
       Reason::kInvalidLogin,
       "login \"-oProxyCommand\" is not valid: it starts with '-'"},
      {"login_empty",
       "bob",
       kBob,
       "",
       "bastion-1",
       kShell,
       {},
       Reason::kInvalidLogin,
       "login \"\" is not valid: it is empty"},
      {"port_forward_without_destination",
       "bob",
       kBob,
       "ubuntu",
       "bastion-1",
       kFwd,
       {},
       Reason::kInvalidDestination,
       "a port-forward needs a destination host and port"},
      {"destination_for_shell", "bob", kBob, "ubuntu", "bastion-1", kShell,
       D{"localhost", 22}, Reason::kInvalidDestination,
       "a forward destination was given for a shell channel; only "
       "port-forward takes one"},
      {"destination_host_injection", "bob", kBob, "ubuntu", "bastion-1", kFwd,
       D{"db;rm", 22}, Reason::kInvalidDestination,
       "forward destination: " + BadHost("\"db\\x3brm\"", kBadChars)},
      {"destination_port_zero", "bob", kBob, "ubuntu", "bastion-1", kFwd,
       D{"db01", 0}, Reason::kInvalidDestination,
       "forward destination port 0 is not valid: it must be 1..65535"},
      {"destination_port_too_big", "bob", kBob, "ubuntu", "bastion-1", kFwd,
       D{"::1", 70000}, Reason::kInvalidDestination,
       "forward destination port 70000 is not valid: it must be 1..65535"},
  };
}

class RbacTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(RbacTableTest, Decides) {
  const Case& c = GetParam();
  const storage::User user = UserNamed(c.user, c.user == "carol");
  int lookups = 0;
  absl::StatusOr<Decision> d = Decide(
      user, Roles(c.roles),
      AccessRequest{c.login, c.host, c.kind, c.destination},
      [&](std::string_view name) {
        ++lookups;
        return absl::StatusOr<std::optional<storage::Host>>(HostNamed(name));
      });
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->allowed, c.code == Reason::kAllowed);
  EXPECT_EQ(ReasonName(d->code), ReasonName(c.code));
  EXPECT_EQ(d->reason, c.reason);
  EXPECT_EQ(d->role, c.role);
  EXPECT_EQ(d->rule, c.rule);
  if (d->allowed) {
    EXPECT_EQ(d->record, c.record);
  }
  // Names are checked before the inventory is consulted, and a refusal
  // that does not depend on the host does not look it up.
  const bool before_lookup =
      c.code == Reason::kInvalidHostName || c.code == Reason::kInvalidLogin ||
      c.code == Reason::kInvalidDestination ||
      c.code == Reason::kUserDisabled || c.code == Reason::kNoRoles;
  EXPECT_EQ(lookups, before_lookup ? 0 : 1);
  // Whatever the request held, the reason is visible text (UTF-8 without a
  // control, bidirectional or invisible character) without a shell
  // metacharacter, nor a name with other bytes as it was sent.
  EXPECT_TRUE(base::IsPrintableUtf8(d->reason)) << d->reason;
  for (char ch : d->reason) {
    EXPECT_FALSE(ch == '$' || ch == '`' || ch == '*' || ch == '/' || ch == '=')
        << "byte " << static_cast<int>(ch) << " in: " << d->reason;
  }
  for (const std::string& sent : {c.host, c.login}) {
    if (EscapeForReason(sent) != "\"" + sent + "\"") {  // has unsafe bytes
      EXPECT_EQ(d->reason.find(sent), std::string::npos) << d->reason;
    }
  }
  // The pure overload agrees with the lookup overload.
  Decision pure = Decide(user, Roles(c.roles),
                         AccessRequest{c.login, c.host, c.kind, c.destination},
                         HostNamed(c.host));
  EXPECT_EQ(pure.reason, d->reason);
}

INSTANTIATE_TEST_SUITE_P(Table, RbacTableTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(RbacTableSizeTest, AtLeastFortyCases) { EXPECT_GE(Cases().size(), 40u); }

}  // namespace
}  // namespace sallyport::ca::rbac
