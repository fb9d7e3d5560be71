// Store suite: listing and revoking join tokens (`spctl tokens ls|revoke`).
// Tokens are named by an id from the store, never by the secret or its hash.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

base::SecretBytes Secret(int i) {
  return base::SecretBytes::FromString(absl::StrCat("list-token-secret-", i));
}

NewJoinToken NewToken(int i, absl::Time expires_at,
                      std::string purpose = "gateway") {
  NewJoinToken t;
  t.token = Secret(i);
  t.purpose = std::move(purpose);
  t.created_by = "admin";
  t.expires_at = expires_at;
  return t;
}

std::vector<int64_t> Ids(const std::vector<JoinToken>& tokens) {
  std::vector<int64_t> ids;
  for (const JoinToken& t : tokens) ids.push_back(t.id);
  return ids;
}

TEST_P(StoreTest, JoinTokensGetIncreasingIdsAndAreListedWithTheirState) {
  const absl::Time t0 = clock_.Now();
  SP_ASSERT_OK_AND_ASSIGN(
      JoinToken a, store_->CreateJoinToken(NewToken(1, t0 + absl::Hours(1))));
  SP_ASSERT_OK_AND_ASSIGN(JoinToken b, store_->CreateJoinToken(NewToken(
                                           2, t0 + absl::Hours(1), "host")));
  SP_ASSERT_OK_AND_ASSIGN(
      JoinToken c, store_->CreateJoinToken(NewToken(3, t0 + absl::Minutes(1))));
  SP_ASSERT_OK_AND_ASSIGN(
      JoinToken d, store_->CreateJoinToken(NewToken(4, t0 + absl::Hours(1))));
  EXPECT_GT(a.id, 0);
  EXPECT_LT(a.id, b.id);
  EXPECT_LT(b.id, c.id);
  EXPECT_LT(c.id, d.id);

  clock_.Advance(absl::Minutes(2));  // c expires
  SP_ASSERT_OK(store_->ConsumeJoinToken(Secret(1)));
  SP_ASSERT_OK_AND_ASSIGN(JoinToken revoked, store_->RevokeJoinToken(b.id));
  EXPECT_EQ(revoked.revoked_at, clock_.Now());
  EXPECT_FALSE(revoked.used_at.has_value());

  SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> all,
                          store_->ListJoinTokens(JoinTokenFilter()));
  ASSERT_EQ(Ids(all), (std::vector<int64_t>{a.id, b.id, c.id, d.id}));
  EXPECT_TRUE(all[0].used_at.has_value());
  EXPECT_FALSE(all[0].revoked_at.has_value());
  EXPECT_EQ(all[1].purpose, "host");
  EXPECT_EQ(all[1].created_by, "admin");
  EXPECT_TRUE(all[1].revoked_at.has_value());
  EXPECT_EQ(all[2].expires_at, t0 + absl::Minutes(1));
  EXPECT_FALSE(all[3].used_at.has_value() || all[3].revoked_at.has_value());
  // Round trip: what a listing says is what the store returned on create.
  EXPECT_EQ(all[3], d);

  JoinTokenFilter usable;
  usable.usable_at = clock_.Now();
  SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> left,
                          store_->ListJoinTokens(usable));
  EXPECT_EQ(Ids(left), (std::vector<int64_t>{d.id}));

  // Paging by id.
  JoinTokenFilter page;
  page.limit = 2;
  SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> first,
                          store_->ListJoinTokens(page));
  EXPECT_EQ(Ids(first), (std::vector<int64_t>{a.id, b.id}));
  page.after_id = b.id;
  SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> second,
                          store_->ListJoinTokens(page));
  EXPECT_EQ(Ids(second), (std::vector<int64_t>{c.id, d.id}));

  // The limit is 1..10000.
  page.limit = 0;
  SP_EXPECT_CODE(store_->ListJoinTokens(page), kInvalidArgument);
  page.limit = 10001;
  SP_EXPECT_CODE(store_->ListJoinTokens(page), kInvalidArgument);
  page.limit = 10000;
  page.after_id = 0;
  SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> max_page,
                          store_->ListJoinTokens(page));
  EXPECT_EQ(max_page.size(), 4u);
}

TEST_P(StoreTest, ARevokedJoinTokenCannotBeConsumed) {
  const absl::Time expires = clock_.Now() + absl::Hours(1);
  SP_ASSERT_OK_AND_ASSIGN(JoinToken t,
                          store_->CreateJoinToken(NewToken(1, expires)));
  SP_ASSERT_OK(store_->RevokeJoinToken(t.id));
  const absl::Status consumed = store_->ConsumeJoinToken(Secret(1)).status();
  EXPECT_EQ(consumed.code(), absl::StatusCode::kFailedPrecondition) << consumed;
  EXPECT_NE(consumed.message().find("revoked"), absl::string_view::npos)
      << consumed;
  // Still revoked, not used, seen from another store too.
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> all,
                          other->ListJoinTokens(JoinTokenFilter()));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].revoked_at.has_value());
  EXPECT_FALSE(all[0].used_at.has_value());

  // Revoking again, a used token, an unknown id.
  SP_EXPECT_CODE(store_->RevokeJoinToken(t.id), kFailedPrecondition);
  SP_ASSERT_OK_AND_ASSIGN(JoinToken u,
                          store_->CreateJoinToken(NewToken(2, expires)));
  SP_ASSERT_OK(store_->ConsumeJoinToken(Secret(2)));
  const absl::Status used = store_->RevokeJoinToken(u.id).status();
  EXPECT_EQ(used.code(), absl::StatusCode::kFailedPrecondition) << used;
  EXPECT_NE(used.message().find("used"), absl::string_view::npos) << used;
  SP_EXPECT_CODE(store_->RevokeJoinToken(u.id + 100), kNotFound);
  SP_EXPECT_CODE(store_->RevokeJoinToken(0), kNotFound);
  SP_EXPECT_CODE(store_->RevokeJoinToken(-1), kNotFound);
}

// A gateway token keeps the gateway name it was created for (schema
// version 13) through every read, and GetJoinToken reads a token without
// using it.
TEST_P(StoreTest, AJoinTokenKeepsItsGatewayNameAndIsReadWithoutBeingUsed) {
  const absl::Time expires = clock_.Now() + absl::Hours(1);
  NewJoinToken named = NewToken(1, expires);
  named.gateway_name = "gw1";
  SP_ASSERT_OK_AND_ASSIGN(JoinToken a, store_->CreateJoinToken(named));
  SP_ASSERT_OK_AND_ASSIGN(JoinToken b,
                          store_->CreateJoinToken(NewToken(2, expires)));
  EXPECT_EQ(a.gateway_name, "gw1");
  EXPECT_EQ(b.gateway_name, "");

  SP_ASSERT_OK_AND_ASSIGN(JoinToken read, store_->GetJoinToken(Secret(1)));
  EXPECT_EQ(read, a);
  SP_EXPECT_CODE(store_->GetJoinToken(Secret(3)), kNotFound);
  SP_EXPECT_CODE(store_->GetJoinToken(base::SecretBytes()), kNotFound);
  // Read, not used: it is consumed once, with its name.
  SP_ASSERT_OK_AND_ASSIGN(JoinToken used, store_->ConsumeJoinToken(Secret(1)));
  EXPECT_EQ(used.gateway_name, "gw1");
  SP_ASSERT_OK_AND_ASSIGN(JoinToken after, store_->GetJoinToken(Secret(1)));
  EXPECT_TRUE(after.used_at.has_value());
  SP_ASSERT_OK_AND_ASSIGN(std::vector<JoinToken> all,
                          store_->ListJoinTokens(JoinTokenFilter()));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].gateway_name, "gw1");
  EXPECT_EQ(all[1], b);

  NewJoinToken bad = NewToken(4, expires);
  bad.gateway_name = std::string(
      "gw\0"
      "1",
      4);
  SP_EXPECT_CODE(store_->CreateJoinToken(bad), kInvalidArgument);
}

TEST_P(StoreTest, RevokeAndConsumeOfOneTokenRaceWithExactlyOneWinner) {
  constexpr int kRounds = 20;
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  for (int i = 0; i < kRounds; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(
        JoinToken t,
        store_->CreateJoinToken(NewToken(i, clock_.Now() + absl::Hours(1))));
    absl::Status consumed, revoked;
    std::thread consumer(
        [&] { consumed = store_->ConsumeJoinToken(Secret(i)).status(); });
    std::thread revoker(
        [&] { revoked = other->RevokeJoinToken(t.id).status(); });
    consumer.join();
    revoker.join();
    EXPECT_NE(consumed.ok(), revoked.ok())
        << "round " << i << ": " << consumed << " / " << revoked;
    EXPECT_TRUE(consumed.ok() ||
                consumed.code() == absl::StatusCode::kFailedPrecondition)
        << consumed;
    EXPECT_TRUE(revoked.ok() ||
                revoked.code() == absl::StatusCode::kFailedPrecondition)
        << revoked;
  }
}

}  // namespace
}  // namespace sallyport::storage::testing
