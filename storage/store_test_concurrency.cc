// Store suite: concurrency. Several threads and several stores (instances)
// on one database; join tokens raced by separate processes.
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/audit_hash.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

constexpr int kThreads = 8;

TEST_P(StoreTest, ConcurrentAuditAppendsFormAGaplessVerifiedChain) {
  constexpr int kPerThread = 1000;
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    // Half the threads use a second store: two instances, one chain.
    Store* s = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([s, t, &failures] {
      for (int i = 0; i < kPerThread; ++i) {
        auto e = s->AppendAuditEvent(
            AuditEventInput{"test.event", absl::StrCat("thread-", t),
                            absl::StrCat(R"({"i":)", i, "}")});
        if (!e.ok()) {
          ++failures;
          ADD_FAILURE() << e.status();
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  std::vector<AuditEvent> all;
  uint64_t after = 0;
  while (true) {
    SP_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> page,
                            store_->ListAuditEvents(after, 5000));
    if (page.empty()) break;
    after = page.back().seq;
    all.insert(all.end(), page.begin(), page.end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].seq, i + 1);
  // Recomputes every hash and checks every link.
  SP_EXPECT_OK(VerifyAuditChain(AuditHead(), all));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store_->GetAuditHead());
  EXPECT_EQ(head.seq, all.size());
  EXPECT_EQ(head.hash, all.back().hash);
  // Every thread's events are all there, in its own order.
  std::vector<int> next(kThreads, 0);
  for (const AuditEvent& e : all) {
    const int t = std::stoi(e.actor.substr(7));
    ASSERT_EQ(e.payload_json, absl::StrCat(R"({"i":)", next[t]++, "}"));
  }
}

TEST_P(StoreTest, ConcurrentSerialsAreUnique) {
  constexpr int kTotal = 10000;
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([s, t, &got] {
      for (int i = 0; i < kTotal / kThreads; ++i) {
        auto serial = s->AllocateSerial();
        if (!serial.ok()) {
          ADD_FAILURE() << serial.status();
          return;
        }
        got[t].push_back(*serial);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> unique;
  for (const auto& v : got) {
    // Each allocator sees its own serials increase.
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
    unique.insert(v.begin(), v.end());
  }
  EXPECT_EQ(unique.size(), static_cast<size_t>(kTotal));
  EXPECT_GE(*unique.begin(), 1u);
}

constexpr int kTokens = 50;

void CreateTokens(Store& store, base::Clock& clock) {
  for (int i = 0; i < kTokens; ++i) {
    NewJoinToken t;
    t.token = base::SecretBytes::FromString(
        absl::StrCat("race-token-", i, "-0123456789"));
    t.purpose = "gateway";
    t.expires_at = clock.Now() + absl::Hours(1);
    ASSERT_TRUE(store.CreateJoinToken(t).ok());
  }
}

// One character per token: 'W' won, 'L' lost (kFailedPrecondition), 'E'
// anything else.
std::string ConsumeAll(Store& store) {
  std::string out;
  for (int i = 0; i < kTokens; ++i) {
    auto r = store.ConsumeJoinToken(base::SecretBytes::FromString(
        absl::StrCat("race-token-", i, "-0123456789")));
    out.push_back(r.ok() ? 'W'
                  : r.status().code() == absl::StatusCode::kFailedPrecondition
                      ? 'L'
                      : 'E');
  }
  return out;
}

void ExpectExactlyOneWinnerEach(const std::vector<std::string>& results) {
  for (int i = 0; i < kTokens; ++i) {
    int wins = 0;
    for (const std::string& r : results) {
      ASSERT_EQ(r.size(), static_cast<size_t>(kTokens));
      EXPECT_NE(r[i], 'E') << "token " << i;
      wins += r[i] == 'W';
    }
    EXPECT_EQ(wins, 1) << "token " << i;
  }
}

TEST_P(StoreTest, JoinTokenIsConsumedOnceAcrossProcesses) {
  CreateTokens(*store_, clock_);
  StoreBackend* backend = backend_.get();
  base::FakeClock* clock = &clock_;
  // Separate processes, each with its own store on the same database.
  auto results = RunInChildProcesses(3, [backend, clock](int) {
    auto store = backend->Open(clock);
    if (!store.ok()) return std::string("open failed");
    return ConsumeAll(**store);
  });
  SP_ASSERT_OK(results);
  ExpectExactlyOneWinnerEach(*results);
  // And the parent's store agrees: every token is used.
  EXPECT_EQ(ConsumeAll(*store_), std::string(kTokens, 'L'));
}

TEST_P(StoreTest, JoinTokenIsConsumedOnceAcrossStoresAndThreads) {
  CreateTokens(*store_, clock_);
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([s, t, &results] { results[t] = ConsumeAll(*s); });
  }
  for (auto& t : threads) t.join();
  ExpectExactlyOneWinnerEach(results);
}

TEST_P(StoreTest, ConcurrentWritersOfDifferentRecords) {
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  Role shared;
  shared.name = "shared";
  SP_ASSERT_OK(store_->CreateRole(shared));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([s, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string name = absl::StrCat("user-", t, "-", i);
        absl::Status st = s->CreateUser(NamedUser(name)).status();
        if (st.ok()) st = s->BindRole(name, "shared").status();
        EXPECT_TRUE(st.ok()) << st;
      }
    });
  }
  for (auto& t : threads) t.join();
  SP_ASSERT_OK_AND_ASSIGN(auto users, store_->ListUsers());
  EXPECT_EQ(users.size(), static_cast<size_t>(kThreads * 20));
  SP_ASSERT_OK_AND_ASSIGN(auto bindings,
                          store_->ListRoleBindings(std::nullopt));
  EXPECT_EQ(bindings.size(), static_cast<size_t>(kThreads * 20));
}

}  // namespace
}  // namespace sallyport::storage::testing
