// The size of the host inventory end to end: a host's labels have a named
// limit on their number and bytes (kMaxHostLabels, kMaxHostLabelBytes),
// enforced at the limit for hosts and for role and deny selectors; hosts
// stored before the limits are still read; an inventory larger than one
// gRPC message (a client's 4 MiB, base::kMaxCaResponseBytes) is listed
// whole by admin.ListHosts and ListMyHosts in pages of at most
// base::kMaxListPageBytes; so are revocations, certificates and audit
// events with long reasons. Real gRPC/TLS against an in-process CA.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/rpc_limits.h"
#include "ca/admin_api_fixture.h"
#include "ca/admin_convert.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/crypto/keys.h"
#include "storage/store.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;

// Host `i` of a large inventory, as large as an admin may make it: 64
// labels of 128 bytes in all (8 KiB) and a pinned key whose comment
// fills the 8 KiB a key line may take.
storage::Host LargeHost(int i, const std::string& key_line) {
  storage::Host h;
  h.name = absl::StrFormat("host%05d", i);
  h.address =
      absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256);
  for (int l = 0; l < 64; ++l) {
    h.labels[absl::StrFormat("label%02d", l)] = std::string(121, 'v');
  }
  h.trust = storage::HostTrust::kPinnedKey;
  h.host_key = key_line + " " +
               std::string(storage::kMaxTextBytes - key_line.size() - 1, 'c');
  return h;
}

// What reading every page of a listing saw.
struct Pages {
  std::vector<std::string> names;  // of every entry, in order
  int pages = 0;
  size_t bytes = 0;  // of every page
};

// Every page of `method` on `stub` from `request` on, the entries of a page
// being `entries(page)`; each page is expected to be answered, to take at
// most kMaxListPageBytes and to have an entry.
template <typename Stub, typename Req, typename Resp, typename Entries>
Pages ReadPages(Stub& stub,
                grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                             Resp*),
                Req request, const Entries& entries) {
  Pages out;
  for (;;) {
    ++out.pages;
    grpc::ClientContext ctx;
    Resp page;
    const grpc::Status st = (stub.*method)(&ctx, request, &page);
    EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    if (!st.ok()) break;
    EXPECT_LE(page.ByteSizeLong(), base::kMaxListPageBytes);
    EXPECT_GT(entries(page).size(), 0);
    out.bytes += page.ByteSizeLong();
    for (const auto& e : entries(page)) out.names.push_back(e.name());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  return out;
}

class InventoryLimitsTest : public AdminApiTest {
 protected:
  // `n` large hosts straight into the store (as many as a long-lived
  // inventory holds; the admin API would take them one by one).
  void AddLargeHosts(int n) {
    auto key = ssh::crypto::PrivateKey::GenerateEd25519();
    ASSERT_TRUE(key.ok());
    const std::string line = key->public_key().ToAuthorizedKeysLine();
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(env->store().CreateHost(LargeHost(i, line)).ok()) << i;
    }
  }
};

// `n` labels "kNN" whose keys and values take `bytes` bytes in all.
google::protobuf::Map<std::string, std::string> Labels(size_t n, size_t bytes) {
  google::protobuf::Map<std::string, std::string> out;
  size_t left = bytes - 3 * n;
  for (size_t i = 0; i < n; ++i) {
    const size_t value = left / (n - i);
    out[absl::StrFormat("k%02d", i)] = std::string(value, 'v');
    left -= value;
  }
  return out;
}

// kMaxHostLabels labels of kMaxHostLabelBytes in all are taken by
// CreateHost and UpdateHost; one label more, or one byte more, is refused
// naming the limit, and the host stays as it was.
TEST_F(InventoryLimitsTest, HostLabelsAreLimitedInNumberAndBytes) {
  ASSERT_EQ(kMaxHostLabels, 64u);
  ASSERT_EQ(kMaxHostLabelBytes, 8192u);
  auto call = [&](auto method, const pb::Host& h) {
    grpc::ClientContext ctx;
    pb::Host out;
    return ((*stub).*method)(&ctx, h, &out);
  };
  pb::Host host;
  host.set_name("web01");
  host.set_address("10.0.0.5");
  *host.mutable_labels() = Labels(kMaxHostLabels, kMaxHostLabelBytes);
  grpc::Status st = call(&pb::Admin::Stub::CreateHost, host);
  ASSERT_TRUE(st.ok()) << st.error_message();
  st = call(&pb::Admin::Stub::UpdateHost, host);
  ASSERT_TRUE(st.ok()) << st.error_message();

  pb::Host too_many = host;
  too_many.set_name("web02");
  *too_many.mutable_labels() = Labels(kMaxHostLabels + 1, 1000);
  pb::Host too_long = host;
  too_long.set_name("web03");
  *too_long.mutable_labels() = Labels(kMaxHostLabels, kMaxHostLabelBytes + 1);
  for (auto method :
       {&pb::Admin::Stub::CreateHost, &pb::Admin::Stub::UpdateHost}) {
    for (pb::Host h : {too_many, too_long}) {
      h.set_name("web01");
      st = call(method, h);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(st.error_message(),
                h.labels_size() > 64
                    ? "host labels: 65 labels, at most 64 are allowed"
                    : "host labels: the labels' keys and values take 8193 "
                      "bytes, at most 8192 are allowed");
    }
  }
  grpc::ClientContext ctx;
  pb::GetHostRequest get;
  get.set_name("web01");
  pb::Host stored;
  ASSERT_TRUE(stub->GetHost(&ctx, get, &stored).ok());
  EXPECT_EQ(stored.labels_size(), 64);
}

// A role's and a deny rule's selector has the hosts' limits: 64 labels are
// taken, 65 refused naming the limit.
TEST_F(InventoryLimitsTest, SelectorLabelsAreLimitedAsHostLabels) {
  pb::Role role;
  role.set_name("ops");
  role.add_logins("ops");
  role.add_channels("shell");
  *role.add_hosts()->mutable_labels() = Labels(kMaxHostLabels, 1000);
  *role.add_deny()->add_hosts()->mutable_labels() =
      Labels(kMaxHostLabels, kMaxHostLabelBytes);
  auto create = [&](const pb::Role& r) {
    grpc::ClientContext ctx;
    pb::Role out;
    return stub->CreateRole(&ctx, r, &out);
  };
  pb::Role allow = role;
  *allow.mutable_hosts(0)->mutable_labels() = Labels(kMaxHostLabels + 1, 1000);
  grpc::Status st = create(allow);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "role hosts: 65 labels, at most 64 are allowed");
  pb::Role deny = role;
  *deny.mutable_deny(0)->mutable_hosts(0)->mutable_labels() =
      Labels(kMaxHostLabels, kMaxHostLabelBytes + 1);
  st = create(deny);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "deny hosts: the labels' keys and values take 8193 bytes, at "
            "most 8192 are allowed");
  st = create(role);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

// A host stored before the limits, with more labels than they allow, is
// still read and listed with all of them; an update must bring it within.
TEST_F(InventoryLimitsTest, AHostStoredAboveTheLimitsIsStillRead) {
  storage::Host old;
  old.name = "legacy01";
  old.address = "10.0.0.7";
  for (int i = 0; i < 100; ++i) {
    old.labels[absl::StrFormat("k%03d", i)] = std::string(200, 'v');
  }
  ASSERT_TRUE(env->store().CreateHost(old).ok());
  pb::Host read;
  {
    grpc::ClientContext ctx;
    pb::GetHostRequest get;
    get.set_name("legacy01");
    ASSERT_TRUE(stub->GetHost(&ctx, get, &read).ok());
    EXPECT_EQ(read.labels_size(), 100);
  }
  {
    grpc::ClientContext ctx;
    pb::ListHostsResponse list;
    ASSERT_TRUE(stub->ListHosts(&ctx, pb::ListHostsRequest(), &list).ok());
    ASSERT_EQ(list.hosts_size(), 1);
    EXPECT_EQ(list.hosts(0).labels_size(), 100);
  }
  grpc::ClientContext ctx;
  pb::Host out;
  const grpc::Status st = stub->UpdateHost(&ctx, read, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "host labels: 100 labels, at most 64 are allowed");
  *read.mutable_labels() = Labels(kMaxHostLabels, kMaxHostLabelBytes);
  grpc::ClientContext again;
  EXPECT_TRUE(stub->UpdateHost(&again, read, &out).ok());
  EXPECT_EQ(out.labels_size(), 64);
}

// 300 hosts at the limits (~16.5 KiB each: 64 labels of 8 KiB, an 8 KiB
// key line) are ~5 MB of hosts, more than a client takes in one message
// (it failed with RESOURCE_EXHAUSTED "Received message larger than max
// (5071036 vs. 4194304)"): ListHosts answers them in pages of at most
// kMaxListPageBytes, each after the one before, every host once, by name;
// a page_size gives pages of that many.
TEST_F(InventoryLimitsTest, ListHostsPagesAnInventoryLargerThanOneMessage) {
  constexpr int kHosts = 300;
  AddLargeHosts(kHosts);
  auto list = [&](uint32_t page_size) {
    pb::ListHostsRequest request;
    request.set_page_size(page_size);
    Pages read = ReadPages(
        *stub, &pb::Admin::Stub::ListHosts, request,
        [](const auto& page) -> const auto& { return page.hosts(); });
    EXPECT_GT(read.bytes, size_t{base::kMaxCaResponseBytes});
    return read;
  };
  std::vector<std::string> want;
  for (int i = 0; i < kHosts; ++i) {
    want.push_back(absl::StrFormat("host%05d", i));
  }
  Pages read = list(0);
  EXPECT_EQ(read.names, want);
  EXPECT_EQ(read.pages, 5);  // 63 hosts of ~16.5 KiB fill 1 MiB
  read = list(50);
  EXPECT_EQ(read.names, want);
  EXPECT_EQ(read.pages, kHosts / 50);
  read = list(5000);  // taken as 1000
  EXPECT_EQ(read.names, want);
  EXPECT_EQ(read.pages, 5);
}

// 500 such hosts through ListMyHosts (~9 KiB each there: no host key) for
// a user whose role selects every host: every host once, by name, in
// pages of at most kMaxListPageBytes.
TEST_F(InventoryLimitsTest, ListMyHostsPagesAnInventoryLargerThanOneMessage) {
  constexpr int kHosts = 500;
  AddLargeHosts(kHosts);
  storage::Role role;
  role.name = "all";
  role.logins = {"ops"};
  role.hosts = {storage::HostSelector{}};
  role.channels = {storage::ChannelKind::kShell};
  ASSERT_TRUE(env->store().CreateRole(role).ok());
  ASSERT_TRUE(env->AddUser("alice", "alice-password", {"all"}).ok());
  auto alice = env->Login("alice", "alice-password");
  ASSERT_TRUE(alice.status.ok()) << alice.status.error_message();
  auto ca = v1::CertificateAuthority::NewStub(alice.channel);
  const Pages read = ReadPages(
      *ca, &v1::CertificateAuthority::Stub::ListMyHosts,
      v1::ListMyHostsRequest(),
      [](const auto& page) -> const auto& { return page.hosts(); });
  std::vector<std::string> want;
  for (int i = 0; i < kHosts; ++i) {
    want.push_back(absl::StrFormat("host%05d", i));
  }
  EXPECT_EQ(read.names, want);
  EXPECT_GT(read.bytes, size_t{base::kMaxCaResponseBytes});
  EXPECT_EQ(read.pages, 5);
}

// The other admin listings a user can grow the same way: 600 users with
// display names as long as the Store keeps (8 KiB; the admin API takes
// 256 bytes, so these bytes are ~7000 of its users) and 6 roles of ~830 KiB
// (100 selectors at the label limits) are each more than 4 MiB; ListUsers and
// ListRoles answer them in pages of at most kMaxListPageBytes, every one
// once, by name.
TEST_F(InventoryLimitsTest, ListUsersAndListRolesPageWhatOneMessageCannotHold) {
  // Those `init` made, and ours.
  std::vector<std::string> users, roles;
  auto initial_users = env->store().ListUsers();
  ASSERT_TRUE(initial_users.ok());
  for (const storage::User& u : *initial_users) users.push_back(u.name);
  auto initial_roles = env->store().ListRoles();
  ASSERT_TRUE(initial_roles.ok());
  for (const storage::Role& r : *initial_roles) roles.push_back(r.name);
  for (int i = 0; i < 600; ++i) {
    storage::User u;
    u.name = absl::StrFormat("user%03d", i);
    u.display_name = std::string(storage::kMaxTextBytes, 'd');
    ASSERT_TRUE(env->store().CreateUser(u).ok()) << i;
    users.push_back(u.name);
  }
  for (int i = 0; i < 6; ++i) {
    storage::Role r;
    r.name = absl::StrFormat("role%d", i);
    r.description = std::string(storage::kMaxTextBytes, 'd');
    for (int s = 0; s < 100; ++s) {
      storage::HostSelector selector;
      for (const auto& [k, v] : Labels(kMaxHostLabels, kMaxHostLabelBytes)) {
        selector.labels[k] = v;
      }
      r.hosts.push_back(std::move(selector));
    }
    ASSERT_TRUE(env->store().CreateRole(r).ok()) << i;
    roles.push_back(r.name);
  }
  const Pages read_users = ReadPages(
      *stub, &pb::Admin::Stub::ListUsers, pb::ListUsersRequest(),
      [](const auto& page) -> const auto& { return page.users(); });
  std::sort(users.begin(), users.end());
  EXPECT_EQ(read_users.names, users);
  EXPECT_GT(read_users.bytes, size_t{base::kMaxCaResponseBytes});
  const Pages read_roles = ReadPages(
      *stub, &pb::Admin::Stub::ListRoles, pb::ListRolesRequest(),
      [](const auto& page) -> const auto& { return page.roles(); });
  std::sort(roles.begin(), roles.end());
  EXPECT_EQ(read_roles.names, roles);
  EXPECT_GT(read_roles.bytes, size_t{base::kMaxCaResponseBytes});
}

// 600 certificates revoked with reasons as long as an admin may give
// (storage::kMaxTextBytes, 8 KiB): the revocation list and the
// certificates (each listed with its revocation) are each more than a
// client takes in one message, as are 1000 large audit events. The gateway asks
// ListRevocations for 10000 at a time and failed with RESOURCE_EXHAUSTED (so it
// never loaded the list and, past revocation_grace, refused every session);
// ListRevocations, admin.ListCertificates and ListAuditEvents answer in pages
// of at most kMaxListPageBytes, each saying whether more follow, every entry
// once.
TEST_F(InventoryLimitsTest,
       RevocationsCertificatesAndEventsPageWhatOneMessageCannotHold) {
  constexpr int kRevoked = 600;
  const std::string reason(storage::kMaxTextBytes, 'r');
  std::vector<uint64_t> serials;
  for (int i = 0; i < kRevoked; ++i) {
    auto serial = env->store().AllocateSerial();
    ASSERT_TRUE(serial.ok()) << serial.status();
    storage::IssuedCertificate c;
    c.serial = *serial;
    c.key_id = absl::StrCat("alice-", i);
    c.user = "alice";
    c.principals = {"alice"};
    c.valid_after = absl::Now() - absl::Minutes(1);
    c.valid_before = absl::Now() + absl::Hours(8);
    c.public_key_fingerprint = absl::StrFormat("SHA256:key%05d", i);
    c.ca_key_fingerprint = "SHA256:ca";
    ASSERT_TRUE(env->store().RecordCertificate(c).ok()) << i;
    grpc::ClientContext ctx;
    pb::RevokeRequest revoke;
    revoke.set_serial(c.serial);
    revoke.set_reason(reason);
    pb::RevokedEntry revoked;
    const grpc::Status st = stub->Revoke(&ctx, revoke, &revoked);
    ASSERT_TRUE(st.ok()) << st.error_message();
    serials.push_back(c.serial);
  }

  // ListRevocations as the gateway and `spctl krl` call it.
  auto ca = v1::CertificateAuthority::NewStub(admin.channel);
  std::vector<uint64_t> listed;
  size_t bytes = 0;
  int pages = 0;
  for (int64_t after = 0;; ++pages) {
    ASSERT_LT(pages, kRevoked);
    grpc::ClientContext ctx;
    v1::ListRevocationsRequest request;
    request.set_after_id(after);
    request.set_limit(10000);
    v1::ListRevocationsResponse page;
    const grpc::Status st = ca->ListRevocations(&ctx, request, &page);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    EXPECT_LE(page.ByteSizeLong(), base::kMaxListPageBytes);
    bytes += page.ByteSizeLong();
    for (const v1::Revocation& r : page.revocations()) {
      listed.push_back(r.serial());
      after = r.id();
    }
    if (!page.more()) break;
    ASSERT_GT(page.revocations_size(), 0);
  }
  EXPECT_EQ(listed, serials);
  EXPECT_GT(bytes, size_t{base::kMaxCaResponseBytes});
  EXPECT_EQ(pages, 4);  // 127 revocations of ~8.2 KiB fill 1 MiB

  // A limit still cuts a page, and says more follow.
  {
    grpc::ClientContext ctx;
    v1::ListRevocationsRequest request;
    request.set_limit(10);
    v1::ListRevocationsResponse page;
    ASSERT_TRUE(ca->ListRevocations(&ctx, request, &page).ok());
    EXPECT_EQ(page.revocations_size(), 10);
    EXPECT_TRUE(page.more());
  }

  // admin.ListCertificates as `spctl certs ls` calls it.
  listed.clear();
  bytes = 0;
  pages = 0;
  for (uint64_t after = 0;; ++pages) {
    ASSERT_LT(pages, kRevoked);
    grpc::ClientContext ctx;
    pb::ListCertificatesRequest request;
    request.set_user("alice");
    request.set_after_serial(after);
    request.set_limit(1000);
    pb::ListCertificatesResponse page;
    const grpc::Status st = stub->ListCertificates(&ctx, request, &page);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    EXPECT_LE(page.ByteSizeLong(), base::kMaxListPageBytes);
    bytes += page.ByteSizeLong();
    for (const pb::IssuedCertificate& c : page.certificates()) {
      EXPECT_TRUE(c.revoked());
      EXPECT_EQ(c.revocation().reason(), reason);
      listed.push_back(c.serial());
      after = c.serial();
    }
    if (!page.more()) break;
    ASSERT_GT(page.certificates_size(), 0);
  }
  EXPECT_EQ(listed, serials);
  EXPECT_GT(bytes, size_t{base::kMaxCaResponseBytes});

  // ListAuditEvents as `spctl audit ls` and `audit verify` call it (pages
  // of 1000): the CA caps an admin request's fields at 1 KiB
  // (audit::kMaxAuditedTextBytes), but an event holds many fields, and the
  // Store keeps payloads of up to storage::kMaxPayloadBytes: 1000 events of
  // 9 KB. Every event once, in order.
  constexpr int kLargeEvents = 1000;
  for (int i = 0; i < kLargeEvents; ++i) {
    storage::AuditEventInput event;
    event.type = "test.large";
    event.actor = "admin";
    event.payload_json = absl::StrCat("{\"i\":", i, ",\"text\":\"",
                                      std::string(9000, 't'), "\"}");
    ASSERT_TRUE(env->store().AppendAuditEvent(event).ok()) << i;
  }
  auto audit = pb::Audit::NewStub(admin.channel);
  std::vector<uint64_t> seqs;
  int large_events = 0;
  bytes = 0;
  pages = 0;
  for (uint64_t after = 0;; ++pages) {
    ASSERT_LT(pages, kRevoked);
    grpc::ClientContext ctx;
    pb::ListAuditEventsRequest request;
    request.set_after_seq(after);
    request.set_limit(1000);
    request.set_purpose("verify");
    pb::ListAuditEventsResponse page;
    const grpc::Status st = audit->ListAuditEvents(&ctx, request, &page);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    EXPECT_LE(page.ByteSizeLong(), base::kMaxListPageBytes);
    bytes += page.ByteSizeLong();
    for (const pb::AuditEvent& e : page.events()) {
      seqs.push_back(e.seq());
      if (e.type() == "test.large") ++large_events;
    }
    if (page.next_after_seq() == 0) break;
    ASSERT_GT(page.next_after_seq(), after);
    after = page.next_after_seq();
  }
  EXPECT_EQ(large_events, kLargeEvents);
  EXPECT_GT(bytes, size_t{base::kMaxCaResponseBytes});
  ASSERT_FALSE(seqs.empty());
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[0] + i);
}

}  // namespace
}  // namespace sallyport::ca
