// The names an admin gives through the admin API (issue 11 "bad input
// gets a clear error"): inventory hosts (name, address, pinned key, labels)
// and roles (name, logins, selectors' label keys and name globs, deny
// rules) that users could never reach or that would carry `;`, spaces or
// control characters into certificates, ssh_config and refusals are
// refused, naming the field. Real gRPC/TLS against an in-process CA.
#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "ca/ca_test_env.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace pb = admin::v1;

// An inventory host is reachable only under a valid host name: the admin
// API refuses a name RBAC would refuse (`;`, a space, `$(`, 300 bytes), an
// address that is neither a host name nor an IP literal, and a pinned key
// that is not an OpenSSH public key line or whose comment has a control
// character, for CreateHost and UpdateHost alike; a valid host is taken. A
// name that reads as an IP address ("10.0.0.9") is refused too: it would
// shadow the host at that address.
TEST(AdminNamesTest, HostsWithInvalidNamesAddressesOrKeysAreRefused) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  auto stub = pb::Admin::NewStub(admin.channel);
  auto create = [&](const pb::Host& h) {
    grpc::ClientContext ctx;
    pb::Host out;
    return stub->CreateHost(&ctx, h, &out);
  };
  auto update = [&](const pb::Host& h) {
    grpc::ClientContext ctx;
    pb::Host out;
    return stub->UpdateHost(&ctx, h, &out);
  };
  pb::Host good;
  good.set_name("web01");
  good.set_address("10.0.0.5");
  ASSERT_TRUE(create(good).ok());
  for (const std::string& name :
       {std::string("bad;name"), std::string("web 01"), std::string("$(id)"),
        std::string("web01."), std::string(300, 'a'), std::string("10.0.0.9"),
        std::string("167772165")}) {
    pb::Host h = good;
    h.set_name(name);
    const grpc::Status st = create(h);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_TRUE(absl::StrContains(st.error_message(), "host name"))
        << st.error_message();
  }
  for (const std::string& address :
       {std::string("not an address"), std::string("10.0.0.5;id"),
        std::string("")}) {
    pb::Host h = good;
    h.set_name("web02");
    h.set_address(address);
    const grpc::Status st = create(h);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << address;
    EXPECT_TRUE(absl::StrContains(st.error_message(), "host address"))
        << st.error_message();
    h.set_name("web01");
    EXPECT_EQ(update(h).error_code(), StatusCode::INVALID_ARGUMENT) << address;
  }
  pb::Host pinned = good;
  pinned.set_name("web03");
  pinned.set_address("fd00::3");
  pinned.set_trust("pinned-key");
  // Pinned to no key: says what to give.
  const grpc::Status no_key = create(pinned);
  EXPECT_EQ(no_key.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(no_key.error_message(),
                                "trust pinned-key needs the host's public key"))
      << no_key.error_message();
  pinned.set_host_key("garbage key");
  const grpc::Status bad_key = create(pinned);
  EXPECT_EQ(bad_key.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(bad_key.error_message(), "host key"))
      << bad_key.error_message();
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok());
  // A key line whose comment carries an escape sequence, a newline or a
  // bidirectional override (`spctl hosts show` prints it as it is).
  for (const std::string& comment :
       {std::string("web\x1b[2J03"), std::string("web03\nAddress: evil"),
        std::string("web03\xe2\x80\xae")}) {
    pinned.set_host_key(key->public_key().ToAuthorizedKeysLine() + " " +
                        comment);
    const grpc::Status st = create(pinned);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << comment;
    EXPECT_EQ(st.error_message(),
              "host key: control characters (newlines, escapes), "
              "bidirectional controls and invisible characters (U+202E, "
              "U+200B) are not allowed");
  }
  pinned.set_host_key(key->public_key().ToAuthorizedKeysLine() + " web03");
  EXPECT_TRUE(create(pinned).ok());

  // An edit (`spctl hosts edit`) is checked as a new host is: a port out of
  // range, a key that is not a key line, an address or key with a control
  // character are refused naming the field, and nothing changes.
  struct Edit {
    std::string field;
    std::function<void(pb::Host&)> edit;
  };
  const std::vector<Edit> edits = {
      {"port must be 1..65535", [](pb::Host& h) { h.set_port(65536); }},
      {"host key", [](pb::Host& h) { h.set_host_key("ssh-ed25519 AAAA"); }},
      {"host key",
       [&](pb::Host& h) {
         h.set_host_key(key->public_key().ToAuthorizedKeysLine() +
                        " web\x1b[2J03");
       }},
      {"host key", [](pb::Host& h) { h.set_host_key(""); }},
      {"host address", [](pb::Host& h) { h.set_address("10.0.0.9\n"); }},
      {"trust must be", [](pb::Host& h) { h.set_trust("tofu"); }},
  };
  for (const Edit& e : edits) {
    pb::Host h = pinned;
    e.edit(h);
    const grpc::Status st = update(h);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << e.field;
    EXPECT_TRUE(absl::StartsWith(st.error_message(), e.field))
        << e.field << ": " << st.error_message();
  }
  absl::StatusOr<storage::Host> stored = env->store().GetHost("web03");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->address, "fd00::3");
  EXPECT_EQ(stored->port, 22);
  EXPECT_EQ(stored->host_key, pinned.host_key());
}

// Found by trying spctl by hand: a role named "bad role;x", logins "ro ot",
// "-x" and "a;b" (which became certificate principals), a label key with a
// space and a name glob with a ';' were all taken. Each is refused now
// naming the field, for roles (also in deny rules) and host labels; the
// valid role is taken.
TEST(AdminNamesTest, RolesAndLabelsWithInvalidNamesAreRefused) {
  auto env = CaTestEnv::CreateOrNull();
  ASSERT_NE(env, nullptr);
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  auto stub = pb::Admin::NewStub(admin.channel);
  pb::Role good;
  good.set_name("web-admins");
  good.add_logins("root");
  good.add_logins("deploy_user");
  (*good.add_hosts()->mutable_labels())["k8s.io/env"] = "Data Platform";
  // Text in other scripts is a fine label value.
  (*good.mutable_hosts(0)->mutable_labels())["team"] =
      "\xd0\x9a\xd0\xbe\xd0\xbc\xd0\xb0\xd0\xbd\xd0\xb4\xd0\xb0 "
      "\xe8\xbf\x90\xe7\xbb\xb4";
  good.add_hosts()->add_name_globs("web-??.*");
  good.add_channels("shell");
  auto create = [&](const pb::Role& r) {
    grpc::ClientContext ctx;
    pb::Role out;
    return stub->CreateRole(&ctx, r, &out);
  };
  struct Case {
    std::string what;
    std::function<void(pb::Role&)> edit;
  };
  std::vector<Case> cases = {
      {"role name", [](pb::Role& r) { r.set_name("bad role;x"); }},
      {"role name", [](pb::Role& r) { r.set_name(std::string(65, 'r')); }},
      {"role logins", [](pb::Role& r) { r.add_logins("ro ot"); }},
      {"role logins", [](pb::Role& r) { r.add_logins("-x"); }},
      {"role logins", [](pb::Role& r) { r.add_logins("a;b"); }},
      {"role hosts",
       [](pb::Role& r) {
         (*r.mutable_hosts(0)->mutable_labels())["e nv"] = "x";
       }},
      {"role hosts",
       [](pb::Role& r) {
         (*r.mutable_hosts(0)->mutable_labels())["env"] = "a\nb";
       }},
      // A C1 control (CSI, which terminals may act on): label values are
      // shown as they are. (Invalid UTF-8 never parses: proto3 strings.)
      {"role hosts",
       [](pb::Role& r) {
         (*r.mutable_hosts(0)->mutable_labels())["env"] =
             "a\xc2\x9b"
             "2J";
       }},
      // A bidirectional override or an invisible character would make the
      // value read as another in `spctl hosts ls` and `sp ls`.
      {"role hosts",
       [](pb::Role& r) {
         (*r.mutable_hosts(0)->mutable_labels())["env"] =
             "prod\xe2\x80\xae"
             "ved";
       }},
      {"role hosts",
       [](pb::Role& r) {
         (*r.mutable_hosts(0)->mutable_labels())["env"] = "pr\xe2\x80\x8bod";
       }},
      {"role hosts",
       [](pb::Role& r) { r.mutable_hosts(1)->add_name_globs("a;b"); }},
      {"deny logins", [](pb::Role& r) { r.add_deny()->add_logins("$(id)"); }},
      {"deny hosts",
       [](pb::Role& r) {
         (*r.add_deny()->add_hosts()->mutable_labels())["-"] = "x";
       }},
  };
  // Too short, negative and too long: one wording with both bounds.
  for (int64_t seconds : {int64_t{1}, int64_t{-3600}, int64_t{367} * 86400}) {
    cases.push_back({"role max_ttl must be at least 1m and at most 366 days",
                     [seconds](pb::Role& r) {
                       r.mutable_max_ttl()->set_seconds(seconds);
                     }});
  }
  cases.push_back({"unknown channel kind",
                   [](pb::Role& r) { r.add_channels("sh\x1b[2Jell"); }});
  for (const Case& c : cases) {
    pb::Role r = good;
    c.edit(r);
    const grpc::Status st = create(r);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_TRUE(absl::StartsWith(st.error_message(), c.what))
        << c.what << ": " << st.error_message();
  }
  // A kind named twice is kept once; a minute is the shortest max_ttl.
  pb::Role twice = good;
  twice.add_channels("shell");
  twice.mutable_max_ttl()->set_seconds(60);
  EXPECT_TRUE(create(twice).ok());
  {
    grpc::ClientContext ctx;
    pb::GetRoleRequest get;
    get.set_name(good.name());
    pb::Role out;
    ASSERT_TRUE(stub->GetRole(&ctx, get, &out).ok());
    EXPECT_EQ(out.channels_size(), 1);
    EXPECT_EQ(out.max_ttl().seconds(), 60);
    grpc::ClientContext del;
    pb::DeleteRoleRequest d;
    d.set_name(good.name());
    google::protobuf::Empty e;
    ASSERT_TRUE(stub->DeleteRole(&del, d, &e).ok());
  }
  EXPECT_TRUE(create(good).ok());

  pb::Host host;
  host.set_name("web01");
  host.set_address("10.0.0.5");
  (*host.mutable_labels())["a b"] = "c";
  grpc::ClientContext ctx;
  pb::Host out;
  const grpc::Status st = stub->CreateHost(&ctx, host, &out);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "host labels"))
      << st.error_message();
}

}  // namespace
}  // namespace sallyport::ca
