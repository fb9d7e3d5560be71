// Store suite: revocations (by serial and by key), the whole list and the
// current one.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

TEST_P(StoreTest, Revocations) {
  Revocation by_serial;
  by_serial.serial = 42;
  by_serial.reason = "laptop stolen";
  by_serial.revoked_by = "admin";
  SP_ASSERT_OK_AND_ASSIGN(Revocation r1, store_->Revoke(by_serial));
  EXPECT_GT(r1.id, 0);
  EXPECT_EQ(r1.revoked_at, clock_.Now());
  Revocation by_key;
  by_key.key_fingerprint = "SHA256:abcdef";
  by_key.reason = "key leaked";
  by_key.revoked_by = "admin";
  SP_ASSERT_OK_AND_ASSIGN(Revocation r2, store_->Revoke(by_key));
  EXPECT_GT(r2.id, r1.id);
  SP_EXPECT_CODE(store_->Revoke(by_serial), kAlreadyExists);
  SP_EXPECT_CODE(store_->Revoke(by_key), kAlreadyExists);

  Revocation both = by_serial;
  both.key_fingerprint = "SHA256:x";
  SP_EXPECT_CODE(store_->Revoke(both), kInvalidArgument);
  SP_EXPECT_CODE(store_->Revoke(Revocation()), kInvalidArgument);

  SP_ASSERT_OK_AND_ASSIGN(auto all, store_->ListRevocations(0));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], r1);
  EXPECT_EQ(all[1], r2);
  SP_ASSERT_OK_AND_ASSIGN(auto newer, store_->ListRevocations(r1.id));
  ASSERT_EQ(newer.size(), 1u);
  EXPECT_EQ(newer[0], r2);

  EXPECT_TRUE(*store_->IsRevoked(42, "SHA256:other"));
  EXPECT_TRUE(*store_->IsRevoked(7, "SHA256:abcdef"));
  EXPECT_FALSE(*store_->IsRevoked(7, "SHA256:other"));
  EXPECT_FALSE(*store_->IsRevoked(7, ""));
  EXPECT_FALSE(*store_->IsRevoked(0, ""));
}

// ListCurrentRevocations: ListRevocations without the serials of recorded
// certificates that expired by the time given; keys and serials of no
// recorded certificate stay, in id order, after after_id.
TEST_P(StoreTest, CurrentRevocationsLeaveOutExpiredCertificates) {
  const absl::Time now = clock_.Now();
  SP_ASSERT_OK(store_->RecordCertificate(
      MakeCert(501, "alice", CertificatePurpose::kLogin, now - absl::Hours(2),
               absl::Hours(1))));
  SP_ASSERT_OK(store_->RecordCertificate(
      MakeCert(502, "alice", CertificatePurpose::kLogin, now - absl::Hours(1),
               absl::Hours(2))));
  // Expires exactly now: expired (valid while now < valid_before).
  SP_ASSERT_OK(store_->RecordCertificate(
      MakeCert(503, "alice", CertificatePurpose::kLogin, now - absl::Hours(1),
               absl::Hours(1))));
  std::vector<int64_t> ids;
  for (uint64_t serial : {501, 502, 503, 999}) {
    Revocation r;
    r.serial = serial;
    r.revoked_by = "admin";
    SP_ASSERT_OK_AND_ASSIGN(Revocation done, store_->Revoke(r));
    ids.push_back(done.id);
  }
  Revocation key;
  key.key_fingerprint = "SHA256:gateway-host-key";
  key.revoked_by = "admin";
  SP_ASSERT_OK_AND_ASSIGN(Revocation by_key, store_->Revoke(key));

  SP_ASSERT_OK_AND_ASSIGN(auto current, store_->ListCurrentRevocations(0, now));
  std::vector<std::string> listed;
  for (const Revocation& r : current) {
    listed.push_back(r.serial.has_value() ? absl::StrCat(*r.serial)
                                          : r.key_fingerprint.value_or(""));
  }
  EXPECT_EQ(listed, (std::vector<std::string>{"502", "999",
                                              "SHA256:gateway-host-key"}));
  SP_ASSERT_OK_AND_ASSIGN(auto all, store_->ListRevocations(0));
  EXPECT_EQ(all.size(), 5u);
  // An hour earlier, 501 had not expired yet... nor 503.
  SP_ASSERT_OK_AND_ASSIGN(current,
                          store_->ListCurrentRevocations(
                              0, now - absl::Hours(1) - absl::Seconds(1)));
  EXPECT_EQ(current.size(), 5u);
  SP_ASSERT_OK_AND_ASSIGN(current, store_->ListCurrentRevocations(ids[2], now));
  ASSERT_EQ(current.size(), 2u);
  EXPECT_EQ(current[0].id, ids[3]);
  EXPECT_EQ(current[1], by_key);
}

}  // namespace
}  // namespace sallyport::storage::testing
