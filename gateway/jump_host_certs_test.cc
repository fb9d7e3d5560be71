#include "gateway/jump_host_certs.h"

#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::vector<uint8_t> Blob(int i) { return {static_cast<uint8_t>(i), 1, 2}; }

TEST(TargetCertificateCacheTest, HitUntilRenewMargin) {
  TargetCertificateCache cache;
  cache.Put("web01", "SHA256:k", Blob(1), kNow + absl::Hours(1));
  EXPECT_EQ(cache.Get("web01", "SHA256:k", kNow), Blob(1));
  // Another gateway host key or another host: a miss.
  EXPECT_FALSE(cache.Get("web01", "SHA256:other", kNow).has_value());
  EXPECT_FALSE(cache.Get("web02", "SHA256:k", kNow).has_value());
  // Within renew_before of the expiry it is no longer handed out.
  const absl::Time late =
      kNow + absl::Hours(1) - TargetCertificateCache::kDefaultRenewBefore;
  EXPECT_TRUE(cache.Get("web01", "SHA256:k", late - absl::Seconds(1)));
  EXPECT_FALSE(cache.Get("web01", "SHA256:k", late).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TargetCertificateCacheTest, BoundedAtMaxEntries) {
  TargetCertificateCache::Options o;
  o.max_entries = 8;
  TargetCertificateCache cache(o);
  for (int i = 0; i < 8; ++i) {
    cache.Put("h" + std::to_string(i), "k", Blob(i),
              kNow + absl::Hours(1) + absl::Minutes(i));
  }
  EXPECT_EQ(cache.size(), 8u);
  // At the limit: one more host evicts the one that expires first (h0).
  cache.Put("h8", "k", Blob(8), kNow + absl::Hours(2));
  EXPECT_EQ(cache.size(), 8u);
  EXPECT_FALSE(cache.Get("h0", "k", kNow).has_value());
  EXPECT_EQ(cache.Get("h1", "k", kNow), Blob(1));
  EXPECT_EQ(cache.Get("h8", "k", kNow), Blob(8));
  // Replacing a cached host does not evict another.
  cache.Put("h8", "k", Blob(9), kNow + absl::Hours(3));
  EXPECT_EQ(cache.size(), 8u);
  EXPECT_EQ(cache.Get("h8", "k", kNow), Blob(9));
  EXPECT_EQ(cache.Get("h1", "k", kNow), Blob(1));
}

TEST(TargetCertificateCacheTest, ZeroEntriesCachesNothing) {
  TargetCertificateCache::Options o;
  o.max_entries = 0;
  TargetCertificateCache cache(o);
  cache.Put("web01", "k", Blob(1), kNow + absl::Hours(1));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Get("web01", "k", kNow).has_value());
}

}  // namespace
}  // namespace sallyport::gateway
