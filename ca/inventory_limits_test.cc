// The size of the host inventory: a host's labels have a named limit on
// their number and bytes (kMaxHostLabels, kMaxHostLabelBytes), enforced at
// the limit for hosts and for role and deny selectors; hosts stored before
// the limits are still read. Real gRPC/TLS against an in-process CA.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ca/admin_api_fixture.h"
#include "ca/admin_convert.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "storage/store.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;

using InventoryLimitsTest = AdminApiTest;

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

}  // namespace
}  // namespace sallyport::ca
