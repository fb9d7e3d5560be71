// Store suite: hostile input. Quotes, SQL fragments, unicode and control
// characters round-trip unchanged (values are only ever bound parameters);
// NUL bytes and invalid UTF-8 in text are refused, never truncated.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

std::vector<std::string> HostileNames() {
  return {
      "O'Brien",
      "\"double\" quotes",
      "'; DROP TABLE users; --",
      "Robert'); DROP TABLE roles;--",
      "x' OR '1'='1",
      "$1",
      "?",
      ":name",
      "back\\slash\\",
      "percent%_wild*",
      "tab\tnew\nline\r",
      "\x01\x1f control",
      "ünïcødé 名前 🚀",
      "\xe2\x80\xae right-to-left override",
      std::string(kMaxNameBytes, 'n'),
  };
}

TEST_P(StoreTest, HostileNamesRoundTripUnchanged) {
  const std::vector<std::string> names = HostileNames();
  for (const std::string& name : names) {
    User u;
    u.name = name;
    u.display_name = name + " (display)";
    SP_ASSERT_OK(store_->CreateUser(u));
    SP_ASSERT_OK_AND_ASSIGN(User got, store_->GetUser(name));
    EXPECT_EQ(got.name, name);
    EXPECT_EQ(got.display_name, u.display_name);
    SP_ASSERT_OK(store_->SetPasswordHash(name, name));

    Role r;
    r.name = name;
    r.description = name;
    r.logins = {name, "ubuntu"};
    HostSelector sel;
    sel.labels = {{name, name}};
    sel.name_globs = {name};
    r.hosts = {sel};
    r.deny = {DenyRule{{name}, {sel}, {}}};
    SP_ASSERT_OK(store_->CreateRole(r));
    SP_ASSERT_OK_AND_ASSIGN(Role got_role, store_->GetRole(name));
    EXPECT_EQ(got_role.logins, r.logins);
    EXPECT_EQ(got_role.hosts, r.hosts);
    EXPECT_EQ(got_role.deny, r.deny);
    SP_ASSERT_OK(store_->BindRole(name, name));

    Host h;
    h.name = name;
    h.address = name;
    h.labels = {{name, name}, {"env", name}};
    SP_ASSERT_OK(store_->CreateHost(h));
    SP_ASSERT_OK_AND_ASSIGN(Host got_host, store_->GetHost(name));
    EXPECT_EQ(got_host.labels, h.labels);

    SP_ASSERT_OK_AND_ASSIGN(
        AuditEvent e, store_->AppendAuditEvent(AuditEventInput{
                          name, name, absl::StrCat(R"({"v":")", name, "\"}")}));
    SP_ASSERT_OK_AND_ASSIGN(auto events, store_->ListAuditEvents(e.seq - 1, 1));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], e);

    Session s;
    s.id = name;
    s.user = s.login = s.host = name;
    s.started_at = clock_.Now();
    SP_ASSERT_OK(store_->CreateSession(s));
    SessionFilter f;
    f.user = name;
    SP_ASSERT_OK_AND_ASSIGN(auto sessions, store_->ListSessions(f));
    ASSERT_EQ(sessions.size(), 1u);
    EXPECT_EQ(sessions[0].id, name);
  }
  // Nothing was dropped or rewritten.
  SP_ASSERT_OK_AND_ASSIGN(std::vector<User> users, store_->ListUsers());
  EXPECT_EQ(users.size(), names.size());
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Role> roles, store_->ListRoles());
  EXPECT_EQ(roles.size(), names.size());
  SP_ASSERT_OK_AND_ASSIGN(auto bindings,
                          store_->ListRoleBindings(std::nullopt));
  EXPECT_EQ(bindings.size(), names.size());
  SP_ASSERT_OK_AND_ASSIGN(auto hosts, store_->ListHosts());
  EXPECT_EQ(hosts.size(), names.size());
}

TEST_P(StoreTest, NulBytesInTextAreRefusedNotTruncated) {
  const std::string with_nul("alice\0admin", 11);
  User u;
  u.name = with_nul;
  const absl::Status s = store_->CreateUser(u).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("NUL"), absl::string_view::npos) << s;
  // Not created under the truncated name either.
  SP_EXPECT_CODE(store_->GetUser("alice"), kNotFound);
  SP_EXPECT_CODE(store_->GetUser(with_nul), kInvalidArgument);

  u.name = "alice";
  u.display_name = with_nul;
  SP_EXPECT_CODE(store_->CreateUser(u), kInvalidArgument);

  Host h;
  h.name = "web01";
  h.address = "10.0.0.1";
  h.labels = {{"env", with_nul}};
  SP_EXPECT_CODE(store_->CreateHost(h), kInvalidArgument);
  h.labels = {{with_nul, "x"}};
  SP_EXPECT_CODE(store_->CreateHost(h), kInvalidArgument);

  SP_EXPECT_CODE(store_->AppendAuditEvent(
                     AuditEventInput{"t", "a", std::string("{\0}", 3)}),
                 kInvalidArgument);
  Role r;
  r.name = "r";
  r.logins = {with_nul};
  SP_EXPECT_CODE(store_->CreateRole(r), kInvalidArgument);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<User> users, store_->ListUsers());
  EXPECT_TRUE(users.empty());
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, 0u);
}

TEST_P(StoreTest, InvalidUtf8IsRefusedTheSameWayEverywhere) {
  for (const std::string& bad :
       {std::string("\xff\xfe"), std::string("\xc0\xaf"),
        std::string("\xed\xa0\x80"),  // surrogate
        std::string("abc\xe2\x82")}) {
    User u;
    u.name = bad;
    SP_EXPECT_CODE(store_->CreateUser(u), kInvalidArgument);
  }
  User too_long;
  too_long.name = std::string(kMaxNameBytes + 1, 'x');
  SP_EXPECT_CODE(store_->CreateUser(too_long), kInvalidArgument);
}

TEST_P(StoreTest, BinaryFieldsTakeAnyBytes) {
  SP_ASSERT_OK(store_->CreateUser(NamedUser("alice")));
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  SP_ASSERT_OK(store_->SetTotpSecret(
      "alice", base::SecretBytes::FromString(all.substr(0, 64))));
  SP_ASSERT_OK_AND_ASSIGN(Credentials c, store_->GetCredentials("alice"));
  EXPECT_EQ(c.totp_secret.view(), all.substr(0, 64));

  Session s;
  s.id = "s";
  s.user = s.login = s.host = "x";
  SP_ASSERT_OK(store_->CreateSession(s));
  SessionRecord record;
  record.session_id = "s";
  record.seq = 1;
  record.data = all + "'; DROP TABLE session_chunks; --" + std::string(3, '\0');
  record.hash = std::string(64, 'a');
  SP_ASSERT_OK(store_->AppendSessionRecords({record}));
  SP_ASSERT_OK_AND_ASSIGN(auto records, store_->ListSessionRecords("s", 0, 10));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].data, record.data);
}

}  // namespace
}  // namespace sallyport::storage::testing
