// The issuance path at scale (issue 11): serial blocks and group commit of
// certificate records with their audit events, on every backend.
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "storage/audit_hash.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

IssuedCertificate CertFor(uint64_t serial, int thread) {
  IssuedCertificate c;
  c.serial = serial;
  c.user = absl::StrCat("user", thread);
  c.key_id = absl::StrCat(c.user, "@", serial);
  c.principals = {c.user};
  c.valid_after = absl::FromUnixSeconds(1700000000);
  c.valid_before = c.valid_after + absl::Hours(8);
  c.public_key_fingerprint = absl::StrCat("SHA256:key-", serial);
  c.ca_key_fingerprint = "SHA256:user-ca";
  c.purpose = CertificatePurpose::kLogin;
  return c;
}

AuditEventInput IssuedEvent(uint64_t serial) {
  return AuditEventInput{"cert.issued", "ca",
                         absl::StrCat(R"({"serial":)", serial, "}")};
}

std::vector<AuditEvent> AllEvents(Store& store) {
  std::vector<AuditEvent> all;
  while (true) {
    auto page = store.ListAuditEvents(all.empty() ? 0 : all.back().seq, 1000);
    if (!page.ok() || page->empty()) return all;
    all.insert(all.end(), page->begin(), page->end());
  }
}

// Many threads issue at once (so the store batches them): every
// certificate and its event is on disk, seen by a second store instance,
// serials are unique, and the audit chain verifies with one event per
// certificate.
TEST_P(StoreTest, ConcurrentIssuancesAreAllDurable) {
  constexpr int kThreads = 16, kEach = 40;
  std::vector<std::vector<uint64_t>> serials(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto serial = store_->AllocateSerial();
        if (!serial.ok()) {
          ADD_FAILURE() << serial.status();
          return;
        }
        auto rec = store_->RecordCertificateWithAudit(CertFor(*serial, t),
                                                      IssuedEvent(*serial));
        if (!rec.ok()) {
          ADD_FAILURE() << rec.status();
          return;
        }
        serials[t].push_back(*serial);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> unique;
  for (const auto& v : serials) unique.insert(v.begin(), v.end());
  ASSERT_EQ(unique.size(), static_cast<size_t>(kThreads * kEach));

  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  for (uint64_t s : unique) {
    SP_ASSERT_OK_AND_ASSIGN(IssuedCertificate got, other->GetCertificate(s));
    EXPECT_EQ(got.key_id, absl::StrCat(got.user, "@", s));
  }
  std::vector<AuditEvent> events = AllEvents(*other);
  ASSERT_EQ(events.size(), unique.size());
  SP_EXPECT_OK(VerifyAuditChain(AuditHead(), events));
  std::set<std::string> payloads;
  for (const AuditEvent& e : events) payloads.insert(e.payload_json);
  for (uint64_t s : unique) {
    EXPECT_TRUE(payloads.count(absl::StrCat(R"({"serial":)", s, "}")));
  }
}

// A batch advances the audit head once for all its events: batches of
// certificate events (8 at most, waiting up to 1 s to fill) on one store
// and single events appended by another store at the same time form one
// gapless chain that verifies, with every event in it exactly once.
TEST_P(StoreTest, BatchedAndSingleAuditAppendsFormOneChain) {
  IssuanceOptions issuance;
  issuance.group_commit_max_batch = 8;
  issuance.group_commit_max_wait = absl::Seconds(1);
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> issuing,
                          backend_->OpenWithIssuance(&clock_, issuance));
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  constexpr int kIssuers = 8, kEach = 6, kAppenders = 2;
  std::vector<std::thread> threads;
  for (int t = 0; t < kIssuers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto serial = issuing->AllocateSerial();
        if (!serial.ok()) {
          ADD_FAILURE() << serial.status();
          return;
        }
        auto rec = issuing->RecordCertificateWithAudit(CertFor(*serial, t),
                                                       IssuedEvent(*serial));
        if (!rec.ok()) ADD_FAILURE() << rec.status();
      }
    });
  }
  for (int t = 0; t < kAppenders; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto e = other->AppendAuditEvent(
            AuditEventInput{"test.single", "tester",
                            absl::StrCat(R"({"n":)", t * 100 + i, "}")});
        if (!e.ok()) ADD_FAILURE() << e.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<AuditEvent> events = AllEvents(*other);
  ASSERT_EQ(events.size(),
            static_cast<size_t>((kIssuers + kAppenders) * kEach));
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, i + 1);
  SP_EXPECT_OK(VerifyAuditChain(AuditHead(), events));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, issuing->GetAuditHead());
  EXPECT_EQ(head.seq, events.size());
  EXPECT_EQ(head.hash, events.back().hash);
  std::set<std::string> payloads;
  for (const AuditEvent& e : events) payloads.insert(e.payload_json);
  EXPECT_EQ(payloads.size(), events.size());
}

// Two store instances (two CA processes) take serials from the same
// database in interleaved blocks: never the same serial twice.
TEST_P(StoreTest, SerialBlocksOfTwoStoresNeverOverlap) {
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(uint64_t a, store_->AllocateSerial());
  SP_ASSERT_OK_AND_ASSIGN(uint64_t b, other->AllocateSerial());
  // The first store holds a whole block: the second starts after it.
  EXPECT_GE(b, a + 256);
  std::set<uint64_t> seen = {a, b};
  for (int i = 0; i < 600; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(uint64_t x, store_->AllocateSerial());
    SP_ASSERT_OK_AND_ASSIGN(uint64_t y, other->AllocateSerial());
    EXPECT_TRUE(seen.insert(x).second) << x;
    EXPECT_TRUE(seen.insert(y).second) << y;
  }
}

// A batch formed on purpose (max_batch 4, a long max_wait: the leader waits
// for all four) in which one certificate reuses a recorded serial: the
// transaction fails and every caller in the batch gets the error; nothing
// of the batch is recorded and the audit chain is as before.
TEST_P(StoreTest, FailingBatchFailsEveryCallerInIt) {
  IssuanceOptions issuance;
  issuance.group_commit_max_batch = 4;
  issuance.group_commit_max_wait = absl::Seconds(10);
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                          backend_->OpenWithIssuance(&clock_, issuance));
  SP_ASSERT_OK_AND_ASSIGN(uint64_t taken, store->AllocateSerial());
  // Recorded alone, before the batch: no other caller is waiting.
  IssuanceOptions single = issuance;
  single.group_commit_max_batch = 1;
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> first,
                          backend_->OpenWithIssuance(&clock_, single));
  SP_ASSERT_OK(
      first->RecordCertificateWithAudit(CertFor(taken, 0), IssuedEvent(taken)));
  SP_ASSERT_OK_AND_ASSIGN(AuditHead before, store->GetAuditHead());

  std::vector<uint64_t> serials = {taken};  // thread 0 reuses it
  for (int i = 1; i < 4; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(uint64_t s, store->AllocateSerial());
    serials.push_back(s);
  }
  std::vector<absl::Status> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      results[t] = store
                       ->RecordCertificateWithAudit(CertFor(serials[t], t),
                                                    IssuedEvent(serials[t]))
                       .status();
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(results[t].code(), absl::StatusCode::kAlreadyExists)
        << t << ": " << results[t];
    EXPECT_TRUE(absl::StrContains(
        results[t].message(),
        "none of the 4 certificates committed together was recorded"))
        << results[t];
  }
  for (int t = 1; t < 4; ++t) {
    SP_EXPECT_CODE(store->GetCertificate(serials[t]), kNotFound);
  }
  SP_ASSERT_OK_AND_ASSIGN(AuditHead after, store->GetAuditHead());
  EXPECT_EQ(after.seq, before.seq);
  EXPECT_EQ(after.hash, before.hash);
  SP_EXPECT_OK(VerifyAuditChain(AuditHead(), AllEvents(*store)));
  // The store goes on: the next certificate is recorded.
  SP_ASSERT_OK_AND_ASSIGN(uint64_t next, store->AllocateSerial());
  IssuanceOptions fast;
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> again,
                          backend_->OpenWithIssuance(&clock_, fast));
  SP_EXPECT_OK(
      again->RecordCertificateWithAudit(CertFor(next, 1), IssuedEvent(next)));
}

// At the batch limit: a full batch commits at once, without waiting out
// max_wait (8 callers, batches of 4, a 10 s wait that would show).
TEST_P(StoreTest, FullBatchCommitsWithoutWaiting) {
  IssuanceOptions issuance;
  issuance.group_commit_max_batch = 4;
  issuance.group_commit_max_wait = absl::Seconds(10);
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                          backend_->OpenWithIssuance(&clock_, issuance));
  std::vector<uint64_t> serials;
  for (int i = 0; i < 8; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(uint64_t s, store->AllocateSerial());
    serials.push_back(s);
  }
  const absl::Time start = absl::Now();
  std::vector<absl::Status> results(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      results[t] = store
                       ->RecordCertificateWithAudit(CertFor(serials[t], t),
                                                    IssuedEvent(serials[t]))
                       .status();
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(9))
      << "a full batch waited for max_wait";
  SP_ASSERT_OK_AND_ASSIGN(AuditHead head, store->GetAuditHead());
  EXPECT_EQ(head.seq, 8u);
}

// RecordCertificateWithAuditAsync (the CA's callback RPCs): one thread
// queues 8 certificates without waiting (batches of 4, a 10 s max_wait
// that would show); every `done` gets OK and its certificate, and a second
// store sees all 8 with a verified chain of 8 events.
TEST_P(StoreTest, AsyncIssuancesAreBatchedAndAllDurable) {
  IssuanceOptions issuance;
  issuance.group_commit_max_batch = 4;
  issuance.group_commit_max_wait = absl::Seconds(10);
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                          backend_->OpenWithIssuance(&clock_, issuance));
  constexpr int kCount = 8;
  std::vector<uint64_t> serials;
  for (int i = 0; i < kCount; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(uint64_t s, store->AllocateSerial());
    serials.push_back(s);
  }
  absl::Mutex mu;
  std::vector<absl::StatusOr<IssuedCertificate>> results;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCount; ++i) {
    store->RecordCertificateWithAuditAsync(
        CertFor(serials[i], i), IssuedEvent(serials[i]),
        [&](absl::StatusOr<IssuedCertificate> r) {
          absl::MutexLock lock(&mu);
          results.push_back(std::move(r));
        });
  }
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&] { return results.size() == kCount; };
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(60)));
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(9))
      << "a full batch waited for max_wait";
  std::set<uint64_t> recorded;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    recorded.insert(r->serial);
  }
  EXPECT_EQ(recorded, std::set<uint64_t>(serials.begin(), serials.end()));
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> other,
                          backend_->OpenWithIssuance(&clock_, issuance));
  for (uint64_t s : serials) SP_EXPECT_OK(other->GetCertificate(s));
  std::vector<AuditEvent> events = AllEvents(*other);
  EXPECT_EQ(events.size(), static_cast<size_t>(kCount));
  SP_EXPECT_OK(VerifyAuditChain(AuditHead(), events));
}

// An async certificate that cannot be recorded (a known serial) gets the
// error in `done`; and a store closed with a queued async certificate
// (a lone one, max_wait 10 s) commits it before it closes, at once.
TEST_P(StoreTest, AsyncIssuanceErrorsAndCloseDrainTheQueue) {
  IssuanceOptions issuance;
  issuance.group_commit_max_batch = 4;
  issuance.group_commit_max_wait = absl::Seconds(10);
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                          backend_->OpenWithIssuance(&clock_, issuance));
  SP_ASSERT_OK_AND_ASSIGN(uint64_t taken, store->AllocateSerial());
  SP_ASSERT_OK_AND_ASSIGN(uint64_t queued, store->AllocateSerial());
  IssuanceOptions single;
  single.group_commit_max_batch = 1;
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> first,
                          backend_->OpenWithIssuance(&clock_, single));
  SP_ASSERT_OK(
      first->RecordCertificateWithAudit(CertFor(taken, 0), IssuedEvent(taken)));

  absl::Notification refused;
  absl::Status refusal;
  first->RecordCertificateWithAuditAsync(
      CertFor(taken, 1), IssuedEvent(taken),
      [&](absl::StatusOr<IssuedCertificate> r) {
        refusal = r.status();
        refused.Notify();
      });
  ASSERT_TRUE(refused.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_EQ(refusal.code(), absl::StatusCode::kAlreadyExists) << refusal;

  bool done = false;
  absl::Status queued_status = absl::UnknownError("not called");
  const absl::Time start = absl::Now();
  store->RecordCertificateWithAuditAsync(
      CertFor(queued, 2), IssuedEvent(queued),
      [&](absl::StatusOr<IssuedCertificate> r) {
        queued_status = r.status();
        done = true;
      });
  store.reset();  // waits for the queued certificate
  EXPECT_TRUE(done);
  SP_EXPECT_OK(queued_status);
  EXPECT_LT(absl::Now() - start, absl::Seconds(9))
      << "closing waited for max_wait";
  SP_EXPECT_OK(first->GetCertificate(queued));
}

// Issue 11: group commit waits at most 2 ms for a batch. The defaults (what
// the CA opens its store with) never hold a call for a batch to fill, and a
// leader that does wait (max_wait 2 s here, so it shows on a loaded
// machine) commits a lone call once max_wait has passed, without waiting
// for the batch to fill.
TEST_P(StoreTest, GroupCommitWaitIsBoundedByMaxWait) {
  EXPECT_LE(IssuanceOptions().group_commit_max_wait, absl::Milliseconds(2));
  IssuanceOptions issuance;
  issuance.group_commit_max_batch = 4;
  issuance.group_commit_max_wait = absl::Seconds(2);
  SP_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                          backend_->OpenWithIssuance(&clock_, issuance));
  SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, store->AllocateSerial());
  const absl::Time start = absl::Now();
  SP_ASSERT_OK(store->RecordCertificateWithAudit(CertFor(serial, 0),
                                                 IssuedEvent(serial)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Seconds(2)) << "the leader did not wait max_wait";
  EXPECT_LT(took, absl::Seconds(60)) << "the leader waited for a full batch";
  SP_ASSERT_OK_AND_ASSIGN(IssuedCertificate got, store->GetCertificate(serial));
  EXPECT_EQ(got.serial, serial);
}

// A certificate the issuer decided for a user it read (user_created_at)
// is recorded only if that user is still there, enabled and the same: an
// issuance that read bob just before `spctl users disable bob` and
// recorded its certificate after the disable's revocation listing left it
// unrevoked. Here the disable (and a delete, and a delete with a new bob)
// lands between the read and the record, through the store as the admin
// API does it; each record is refused with nothing written, its event
// neither, and a session certificate's session is not claimed.
TEST_P(StoreTest, ACertificateIsRecordedOnlyForItsUserAsRead) {
  User bob;
  bob.name = "bob";
  SP_ASSERT_OK(store_->CreateUser(bob));
  SP_ASSERT_OK_AND_ASSIGN(User read, store_->GetUser("bob"));
  const size_t events_before = AllEvents(*store_).size();
  const auto cert_for_bob = [&](const User& as_read) {
    auto serial = store_->AllocateSerial();
    EXPECT_TRUE(serial.ok()) << serial.status();
    IssuedCertificate c = CertFor(serial.value_or(1), 0);
    c.user = "bob";
    c.user_created_at = as_read.created_at;
    return c;
  };
  const auto refused = [&](const absl::Status& st, const std::string& why,
                           uint64_t serial) {
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), why)) << st;
    SP_EXPECT_CODE(store_->GetCertificate(serial), kNotFound);
    EXPECT_EQ(AllEvents(*store_).size(), events_before);
  };

  bob.disabled = true;
  SP_ASSERT_OK(store_->UpdateUser(bob, std::nullopt));
  IssuedCertificate c = cert_for_bob(read);
  refused(
      ToStatus(store_->RecordCertificateWithAudit(c, IssuedEvent(c.serial))),
      "user 'bob' was disabled since", c.serial);
  c = cert_for_bob(read);
  refused(ToStatus(store_->RecordCertificate(c)), "was disabled since",
          c.serial);
  c = cert_for_bob(read);
  c.purpose = CertificatePurpose::kSession;
  refused(ToStatus(store_->RecordSessionCertificate(
              c, IssuedEvent(c.serial), SessionClaim{"s-bob", "gw1"})),
          "was disabled since", c.serial);
  // The session is nobody's: another gateway claims it.
  SP_ASSERT_OK_AND_ASSIGN(std::string owner,
                          store_->ClaimSession("s-bob", "gw2"));
  EXPECT_EQ(owner, "gw2");
  // Async, as the CA's login path records.
  c = cert_for_bob(read);
  absl::Notification done;
  absl::Status async_status;
  store_->RecordCertificateWithAuditAsync(
      c, IssuedEvent(c.serial), [&](absl::StatusOr<IssuedCertificate> r) {
        async_status = r.status();
        done.Notify();
      });
  done.WaitForNotification();
  refused(async_status, "was disabled since", c.serial);

  // Enabled again: recorded.
  bob.disabled = false;
  SP_ASSERT_OK(store_->UpdateUser(bob, std::nullopt));
  c = cert_for_bob(read);
  SP_ASSERT_OK(store_->RecordCertificateWithAudit(c, IssuedEvent(c.serial)));
  SP_EXPECT_OK(store_->GetCertificate(c.serial));

  SP_ASSERT_OK(store_->DeleteUser("bob"));
  c = cert_for_bob(read);
  const size_t after_recorded = AllEvents(*store_).size();
  absl::Status st =
      ToStatus(store_->RecordCertificateWithAudit(c, IssuedEvent(c.serial)));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "was deleted since")) << st;
  SP_EXPECT_CODE(store_->GetCertificate(c.serial), kNotFound);

  clock_.Advance(absl::Seconds(1));
  SP_ASSERT_OK(store_->CreateUser(bob));
  c = cert_for_bob(read);
  st = ToStatus(store_->RecordCertificateWithAudit(c, IssuedEvent(c.serial)));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "deleted and created again"))
      << st;
  SP_EXPECT_CODE(store_->GetCertificate(c.serial), kNotFound);
  EXPECT_EQ(AllEvents(*store_).size(), after_recorded);
  // The new bob, as read now, gets his.
  SP_ASSERT_OK_AND_ASSIGN(read, store_->GetUser("bob"));
  c = cert_for_bob(read);
  SP_EXPECT_OK(store_->RecordCertificateWithAudit(c, IssuedEvent(c.serial)));
}

// A gateway identity renews once (renews_serial): a second renewal of the
// same serial is refused with nothing written, whether it comes later, in
// the same group-commit batch, or from many threads at once; exactly one
// of them is recorded, with its event.
TEST_P(StoreTest, AGatewayIdentityIsRenewedOnce) {
  const auto identity = [&](uint64_t renews) {
    auto serial = store_->AllocateSerial();
    EXPECT_TRUE(serial.ok()) << serial.status();
    IssuedCertificate c = CertFor(serial.value_or(1), 0);
    c.user = "gateway:gw1";
    c.purpose = CertificatePurpose::kGateway;
    c.renews_serial = renews;
    return c;
  };
  const IssuedCertificate enrolled = identity(0);
  SP_ASSERT_OK(store_->RecordCertificateWithAudit(
      enrolled, IssuedEvent(enrolled.serial)));
  const IssuedCertificate first = identity(enrolled.serial);
  SP_ASSERT_OK(
      store_->RecordCertificateWithAudit(first, IssuedEvent(first.serial)));
  SP_ASSERT_OK_AND_ASSIGN(IssuedCertificate got,
                          store_->GetCertificate(first.serial));
  EXPECT_EQ(got.renews_serial, enrolled.serial);
  const size_t events = AllEvents(*store_).size();
  const IssuedCertificate second = identity(enrolled.serial);
  absl::Status st = ToStatus(
      store_->RecordCertificateWithAudit(second, IssuedEvent(second.serial)));
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists) << st;
  EXPECT_TRUE(absl::StrContains(
      st.message(), absl::StrCat("gateway identity serial ", enrolled.serial,
                                 " was renewed already")))
      << st;
  SP_EXPECT_CODE(store_->GetCertificate(second.serial), kNotFound);
  SP_EXPECT_CODE(store_->RecordCertificate(identity(enrolled.serial)),
                 kAlreadyExists);
  EXPECT_EQ(AllEvents(*store_).size(), events);

  // Many renewals of `first` at once, from threads of two stores (one
  // batch or several): exactly one is recorded.
  std::unique_ptr<Store> other = OpenAnother();
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 8;
  std::vector<IssuedCertificate> renewals;
  for (int t = 0; t < kThreads; ++t) renewals.push_back(identity(first.serial));
  std::atomic<int> ok{0}, already{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& s = t % 2 == 0 ? *store_ : *other;
      absl::Status r = ToStatus(s.RecordCertificateWithAudit(
          renewals[t], IssuedEvent(renewals[t].serial)));
      if (r.ok()) {
        ++ok;
      } else if (r.code() == absl::StatusCode::kAlreadyExists) {
        ++already;
      } else {
        ADD_FAILURE() << r;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(already.load(), kThreads - 1);
  EXPECT_EQ(AllEvents(*store_).size(), events + 1);

  // Only a gateway identity renews another.
  IssuedCertificate login = CertFor(1, 0);
  login.renews_serial = first.serial;
  SP_EXPECT_CODE(store_->RecordCertificate(login), kInvalidArgument);
}

TEST_P(StoreTest, IssuanceOptionsOutOfRangeAreRefused) {
  for (auto bad : std::vector<IssuanceOptions>{
           {0, 256, absl::ZeroDuration()},
           {kMaxSerialBlock + 1, 256, absl::ZeroDuration()},
           {256, 0, absl::ZeroDuration()},
           {256, kMaxGroupCommitBatch + 1, absl::ZeroDuration()},
           {256, 256, -absl::Milliseconds(1)},
           {256, 256, kMaxGroupCommitWait + absl::Milliseconds(1)}}) {
    SP_EXPECT_CODE(backend_->OpenWithIssuance(&clock_, bad), kInvalidArgument);
  }
}

}  // namespace
}  // namespace sallyport::storage::testing
