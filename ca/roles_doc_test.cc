// docs/roles.md is true: every ```yaml example in it is a role that
// `spctl roles create` accepts (parsed as spctl parses a role file, then
// converted and validated as the CA's CreateRole does), and the examples
// decide as the page says (the RBAC engine the gateway asks).
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/admin_convert.h"
#include "ca/rbac/rbac.h"
#include "ca/yaml_proto.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"

namespace sallyport::ca {
namespace {

using storage::ChannelKind;

std::map<std::string, storage::Role> DocumentedRoles() {
  std::ifstream in("docs/roles.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  EXPECT_FALSE(doc.empty()) << "docs/roles.md not found";
  std::map<std::string, storage::Role> roles;
  size_t at = 0;
  while ((at = doc.find("```yaml\n", at)) != std::string::npos) {
    at += 8;
    const size_t end = doc.find("```", at);
    if (end == std::string::npos) break;
    const std::string yaml = doc.substr(at, end - at);
    at = end + 3;
    admin::v1::Role proto;
    absl::Status parsed = YamlToProto(yaml, "docs/roles.md", &proto);
    EXPECT_TRUE(parsed.ok()) << parsed << "\n" << yaml;
    if (!parsed.ok()) continue;
    absl::StatusOr<storage::Role> role = RoleFromProto(proto);
    EXPECT_TRUE(role.ok()) << role.status() << "\n" << yaml;
    if (!role.ok()) continue;
    EXPECT_TRUE(role->Validate().ok()) << role->Validate() << "\n" << yaml;
    roles[role->name] = *role;
  }
  return roles;
}

storage::Host Host(const std::string& name,
                   std::map<std::string, std::string> labels) {
  storage::Host h;
  h.name = name;
  h.address = "10.0.0.1";
  h.labels = std::move(labels);
  return h;
}

bool Allows(const storage::Role& role, const std::string& login,
            const storage::Host& host, ChannelKind kind) {
  storage::User user;
  user.name = "u";
  rbac::AccessRequest request;
  request.login = login;
  request.host = host.name;
  request.kind = kind;
  if (kind == ChannelKind::kPortForward) {
    request.destination = rbac::ForwardDestination{"127.0.0.1", 80};
  }
  return rbac::Decide(user, {role}, request, host).allowed;
}

TEST(RolesDocTest, EveryExampleIsAValidRole) {
  const std::map<std::string, storage::Role> roles = DocumentedRoles();
  EXPECT_EQ(roles.size(), 5u);
  for (const char* name :
       {"web-ops", "db-readonly", "contractors", "backup", "jump-only"}) {
    EXPECT_EQ(roles.count(name), 1u) << name;
  }
}

TEST(RolesDocTest, TheExamplesDecideAsThePageSays) {
  std::map<std::string, storage::Role> roles = DocumentedRoles();
  ASSERT_EQ(roles.size(), 5u);
  const storage::Role& web = roles["web-ops"];
  EXPECT_TRUE(Allows(web, "deploy", Host("web01", {}), ChannelKind::kShell));
  EXPECT_TRUE(Allows(web, "www-data", Host("WEB02", {}), ChannelKind::kSftp));
  EXPECT_FALSE(Allows(web, "root", Host("web01", {}), ChannelKind::kShell));
  EXPECT_FALSE(Allows(web, "deploy", Host("db01", {}), ChannelKind::kShell));
  EXPECT_FALSE(
      Allows(web, "deploy", Host("web01", {}), ChannelKind::kPortForward));
  EXPECT_EQ(web.max_ttl, absl::Hours(8));

  const storage::Role& db = roles["db-readonly"];
  EXPECT_TRUE(Allows(db, "readonly",
                     Host("pg1", {{"env", "prod"}, {"tier", "db"}}),
                     ChannelKind::kShell));
  EXPECT_FALSE(Allows(db, "readonly", Host("pg1", {{"env", "prod"}}),
                      ChannelKind::kShell));
  EXPECT_TRUE(
      Allows(db, "readonly", Host("db-staging-7", {}), ChannelKind::kExec));
  EXPECT_TRUE(
      Allows(db, "readonly", Host("db-test-a", {}), ChannelKind::kExec));
  EXPECT_FALSE(
      Allows(db, "readonly", Host("db-test-ab", {}), ChannelKind::kExec));

  const storage::Role& c = roles["contractors"];
  const storage::Host prod = Host("app1", {{"env", "prod"}});
  const storage::Host staging = Host("app2", {{"env", "staging"}});
  EXPECT_TRUE(Allows(c, "deploy", prod, ChannelKind::kExec));
  EXPECT_TRUE(Allows(c, "deploy", prod, ChannelKind::kSftp));
  EXPECT_FALSE(Allows(c, "deploy", prod, ChannelKind::kShell));
  EXPECT_FALSE(Allows(c, "deploy", prod, ChannelKind::kPortForward));
  EXPECT_TRUE(Allows(c, "deploy", staging, ChannelKind::kShell));
  EXPECT_TRUE(Allows(c, "deploy", staging, ChannelKind::kPortForward));
  EXPECT_EQ(c.max_ttl, absl::Hours(2));
  EXPECT_EQ(c.record_input, std::optional<bool>(true));
  // The deny rule for root: even a role that allowed root could not.
  storage::Role with_root = c;
  with_root.logins.push_back("root");
  EXPECT_FALSE(Allows(with_root, "root", staging, ChannelKind::kExec));

  const storage::Role& backup = roles["backup"];
  EXPECT_EQ(backup.record, storage::RecordMode::kNever);
  EXPECT_EQ(backup.force_command,
            std::optional<std::string>("/usr/local/bin/backup-agent --serve"));
  EXPECT_TRUE(Allows(backup, "backup", Host("nas", {{"backup", "yes"}}),
                     ChannelKind::kExec));
  EXPECT_FALSE(Allows(backup, "backup", Host("nas", {{"backup", "yes"}}),
                      ChannelKind::kShell));

  const storage::Role& jump = roles["jump-only"];
  EXPECT_TRUE(Allows(jump, "deploy", Host("lab1", {{"env", "lab"}}),
                     ChannelKind::kProxyJumpPassthrough));
  EXPECT_FALSE(Allows(jump, "deploy", Host("lab1", {{"env", "lab"}}),
                      ChannelKind::kShell));
}

}  // namespace
}  // namespace sallyport::ca
