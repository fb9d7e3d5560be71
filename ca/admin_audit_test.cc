// What the admin API's audit events ("admin.<Method>") carry: the names of
// records as the store keeps them. Real gRPC/TLS against an in-process CA
// with a real SQLite store; the events are read back from the store.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "ca/admin_api_fixture.h"
#include "google/protobuf/empty.pb.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace pb = admin::v1;

class AdminAuditTest : public AdminApiTest {
 protected:
  // The payload of the newest event of `type` ("" when there is none).
  std::string LastPayload(std::string_view type) {
    absl::StatusOr<std::vector<storage::AuditEvent>> all =
        env->store().ListAuditEvents(0, 10000);
    if (!all.ok()) return "";
    for (auto it = all->rbegin(); it != all->rend(); ++it) {
      if (it->type == type) return it->payload_json;
    }
    return "";
  }
  // The newest event of `type` carries `text` in its payload.
  void ExpectLastHas(std::string_view type, const std::string& text) {
    const std::string payload = LastPayload(type);
    EXPECT_TRUE(absl::StrContains(payload, text)) << type << ": " << payload;
  }
  grpc::Status GetHost(const std::string& name) {
    grpc::ClientContext ctx;
    pb::GetHostRequest get;
    get.set_name(name);
    pb::Host out;
    return stub->GetHost(&ctx, get, &out);
  }
  grpc::Status DeleteHost(const std::string& name) {
    grpc::ClientContext ctx;
    pb::DeleteHostRequest del;
    del.set_name(name);
    google::protobuf::Empty out;
    return stub->DeleteHost(&ctx, del, &out);
  }
};

// Found by a tester: `spctl hosts add Web03` made host web03 (the store
// keeps host names in lowercase), and its event said host="Web03", so an
// auditor searching the log for web03 missed it. The event names the host
// as stored, and as typed beside it when that differs.
TEST_F(AdminAuditTest, EventsNameHostsAsStored) {
  pb::Host host;
  host.set_name("Web03");
  host.set_address("10.0.0.3");
  {
    grpc::ClientContext ctx;
    pb::Host out;
    ASSERT_TRUE(stub->CreateHost(&ctx, host, &out).ok());
    EXPECT_EQ(out.name(), "web03");
  }
  const std::string both = R"("host":"web03","host_as_typed":"Web03")";
  ExpectLastHas("admin.CreateHost", both);
  ASSERT_TRUE(GetHost("WEB03").ok());
  ExpectLastHas("admin.GetHost", R"("host":"web03","host_as_typed":"WEB03")");
  {
    grpc::ClientContext ctx;
    host.set_address("10.0.0.4");
    pb::Host out;
    ASSERT_TRUE(stub->UpdateHost(&ctx, host, &out).ok());
  }
  ExpectLastHas("admin.UpdateHost", both);
  {
    grpc::ClientContext ctx;
    pb::CheckAccessRequest check;
    check.set_user("admin");
    check.set_login("root");
    check.set_host("Web03");
    pb::CheckAccessResponse out;
    ASSERT_TRUE(stub->CheckAccess(&ctx, check, &out).ok());
    EXPECT_EQ(out.host(), "web03");
  }
  ExpectLastHas("admin.CheckAccess", both);
  // Typed as stored: one field, as before.
  ASSERT_TRUE(GetHost("web03").ok());
  ExpectLastHas("admin.GetHost", R"({"host":"web03","code":"OK")");
  ASSERT_TRUE(DeleteHost("Web03").ok());
  ExpectLastHas("admin.DeleteHost", both);
  // No such host: there is no stored form, the name is as typed.
  EXPECT_EQ(DeleteHost("Web03").error_code(), StatusCode::NOT_FOUND);
  ExpectLastHas("admin.DeleteHost", R"({"host":"Web03","code":"NOT_FOUND")");
}

// `spctl hosts edit web03 --port 2222` changes only the port: its
// admin.UpdateHost event said host and address, so the log did not show
// what changed. CreateHost and UpdateHost events carry every field: as
// stored when the call succeeded (a port and trust left out are stored as
// 22 and host-ca; the event said "port":0,"trust":""), as sent when it was
// refused.
TEST_F(AdminAuditTest, HostEventsCarryEveryField) {
  pb::Host host;
  host.set_name("web03");
  host.set_address("10.0.0.3");
  (*host.mutable_labels())["team"] = "web";
  (*host.mutable_labels())["env"] = "prod";
  {
    grpc::ClientContext ctx;
    pb::Host out;
    ASSERT_TRUE(stub->CreateHost(&ctx, host, &out).ok());
  }
  ExpectLastHas("admin.CreateHost",
                R"({"host":"web03","address":"10.0.0.3","port":22,)"
                R"("trust":"host-ca","host_key":"",)"
                R"("labels":["env=prod","team=web"],"code":"OK")");
  host.set_port(2222);
  host.set_trust("pinned-key");
  host.set_host_key("ssh-ed25519 AAAA-not-a-key");
  {
    grpc::ClientContext ctx;
    pb::Host out;
    EXPECT_EQ(stub->UpdateHost(&ctx, host, &out).error_code(),
              StatusCode::INVALID_ARGUMENT);
  }
  ExpectLastHas(
      "admin.UpdateHost",
      R"({"host":"web03","address":"10.0.0.3","port":2222,)"
      R"("trust":"pinned-key","host_key":"ssh-ed25519 AAAA-not-a-key",)"
      R"("labels":["env=prod","team=web"],"code":"INVALID_ARGUMENT")");
}

// admin.CreateRole and admin.UpdateRole said only the role and its logins:
// an update turning recording off and adding a deny rule showed neither.
// They carry every field, as stored when the call succeeded (max_ttl,
// record and record_mode filled in) and as sent when it was refused.
TEST_F(AdminAuditTest, RoleEventsCarryEveryField) {
  pb::Role role;
  role.set_name("ops");
  role.set_description("operators");
  role.add_logins("ubuntu");
  role.add_hosts()->add_name_globs("web*");
  role.add_channels("shell");
  {
    grpc::ClientContext ctx;
    pb::Role out;
    ASSERT_TRUE(stub->CreateRole(&ctx, role, &out).ok());
  }
  ExpectLastHas(
      "admin.CreateRole",
      R"({"role":"ops","description":"operators","logins":["ubuntu"],)"
      R"("hosts":["{\"labels\":[],\"name_globs\":[\"web*\"]}"],)"
      R"("channels":["shell"],"max_ttl":"8h","record":"always",)"
      R"("record_mode":"strict","deny":[],"code":"OK")");
  role.set_record("never");
  role.set_record_mode("best_effort");
  role.set_record_input(false);
  role.set_force_command("/usr/bin/menu");
  role.add_channels("port-forward");
  role.mutable_max_ttl()->set_seconds(3600);
  (*role.mutable_hosts(0)->mutable_labels())["env"] = "prod";
  pb::DenyRule* deny = role.add_deny();
  deny->add_logins("root");
  deny->add_channels("exec");
  (*deny->add_hosts()->mutable_labels())["tier"] = "db";
  {
    grpc::ClientContext ctx;
    pb::Role out;
    ASSERT_TRUE(stub->UpdateRole(&ctx, role, &out).ok());
  }
  ExpectLastHas(
      "admin.UpdateRole",
      R"({"role":"ops","description":"operators","logins":["ubuntu"],)"
      R"("hosts":["{\"labels\":[\"env=prod\"],\"name_globs\":[\"web*\"]}"],)"
      R"("channels":["shell","port-forward"],"max_ttl":"1h",)"
      R"("record":"never","record_mode":"best_effort","record_input":false,)"
      R"("force_command":"/usr/bin/menu",)"
      R"("deny":["{\"logins\":[\"root\"],\"channels\":[\"exec\"],)"
      R"(\"hosts\":[{\"labels\":[\"tier=db\"],\"name_globs\":[]}]}"],)"
      R"("code":"OK")");
  // Refused (a max_ttl under a minute): what was sent.
  role.mutable_max_ttl()->set_seconds(10);
  role.clear_deny();
  {
    grpc::ClientContext ctx;
    pb::Role out;
    EXPECT_EQ(stub->UpdateRole(&ctx, role, &out).error_code(),
              StatusCode::INVALID_ARGUMENT);
  }
  ExpectLastHas("admin.UpdateRole",
                R"("max_ttl":"10s","record":"never",)"
                R"("record_mode":"best_effort","record_input":false,)"
                R"("force_command":"/usr/bin/menu","deny":[],)"
                R"("code":"INVALID_ARGUMENT")");
}

// Found by a tester: a refused request was audited with its whole
// argument, a 120 KB reason whole in the log. Each field is capped at
// kMaxAuditedTextBytes (1 KiB), marked as cut, with its whole size beside.
TEST_F(AdminAuditTest, RequestTextsAreAuditedCappedAtTheLimit) {
  auto revoke_all = [&](const std::string& reason) {
    grpc::ClientContext ctx;
    pb::RevokeUserCertificatesRequest req;
    req.set_user("nobody");
    req.set_reason(reason);
    pb::RevokeUserCertificatesResponse out;
    return stub->RevokeUserCertificates(&ctx, req, &out);
  };
  const std::string at_limit(audit::kMaxAuditedTextBytes, 'r');
  EXPECT_FALSE(revoke_all(at_limit).ok());
  ExpectLastHas("admin.RevokeUserCertificates",
                R"("reason":")" + at_limit + R"(","code":)");
  EXPECT_EQ(revoke_all(std::string(120 * 1024, 'r')).error_code(),
            StatusCode::INVALID_ARGUMENT);
  const std::string payload = LastPayload("admin.RevokeUserCertificates");
  EXPECT_TRUE(absl::StrContains(
      payload, absl::StrCat(R"("reason":")", at_limit.substr(3), "\u2026",
                            R"(","reason_bytes":122880,"code":)")))
      << payload;
  EXPECT_LT(payload.size(), 2 * audit::kMaxAuditedTextBytes);
}

}  // namespace
}  // namespace sallyport::ca
