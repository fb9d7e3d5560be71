// EventSender against a real in-process CA (ca/gateway_test_util): events
// reach the hash-chained log in order and in batches, an event the CA
// refuses (an unknown code, a lie about a bound session's user) does not
// hold back the others, and the queue stops at its limit
// (drops counted and logged) while the CA cannot be reached.
#include "gateway/event_sender.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "audit/audit_hash.h"
#include "ca/gateway_test_util.h"
#include "gateway/metrics.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

class EventSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ca::StartCa(ca::Backend::kSqlite, &pg_);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
    gateway_ = ca::EnrollOrDie(*env_, "gw1");
    ASSERT_NE(gateway_.channel, nullptr);
  }

  EventSenderOptions Options() {
    EventSenderOptions o;
    o.initial_backoff = absl::Milliseconds(20);
    o.max_backoff = absl::Milliseconds(200);
    o.rpc_timeout = absl::Seconds(30);
    o.registry = &registry_;
    o.log = [this](std::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
    return o;
  }

  std::vector<storage::AuditEvent> Events(std::string_view type) {
    std::vector<storage::AuditEvent> out;
    auto all = env_->store().ListAuditEvents(0, 10000);
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return out;
    for (const storage::AuditEvent& e : *all) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }

  void ExpectChainIntact() {
    auto all = env_->store().ListAuditEvents(0, 10000);
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_TRUE(audit::VerifyAuditChain(audit::AuditHead{}, *all).ok());
  }

  // Flushes `sender`, which queued exec.command "first", one event the CA
  // refuses, and exec.command "second": those two reach the log in order.
  void FlushAndExpectFirstAndSecondOnly(EventSender& sender) {
    ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(60)).ok());
    EXPECT_EQ(sender.sent(), 2u);
    EXPECT_EQ(sender.rejected(), 1u);
    std::vector<storage::AuditEvent> got = Events("exec.command");
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(absl::StrContains(got[0].payload_json, "first"));
    EXPECT_TRUE(absl::StrContains(got[1].payload_json, "second"));
  }

  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

  // The real CA, keeping each event it took in `taken_`.
  EventSender::Send Keeping() {
    return [this, real = EventSender::GrpcSend(gateway_.channel)](
               const gateway::v1::RecordGatewayEventsRequest& request,
               absl::Duration timeout) {
      absl::Status st = real(request, timeout);
      absl::MutexLock lock(&mu_);
      if (st.ok()) {
        taken_.insert(taken_.end(), request.events().begin(),
                      request.events().end());
      }
      return st;
    };
  }

  std::vector<gateway::v1::GatewayEvent> Taken() {
    absl::MutexLock lock(&mu_);
    return taken_;
  }

  std::unique_ptr<testing::PostgresFixture> pg_;
  std::unique_ptr<ca::CaTestEnv> env_;
  ca::EnrolledGateway gateway_;
  MetricsRegistry registry_;
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::vector<gateway::v1::GatewayEvent> taken_ ABSL_GUARDED_BY(mu_);
};

// What kMaxEventBytes bounds: the bytes of `e`'s field names and texts.
size_t FieldBytes(const gateway::v1::GatewayEvent& e) {
  size_t bytes = 0;
  for (const auto& f : e.fields()) bytes += f.name().size() + f.text().size();
  return bytes;
}

// `text` as sent for `whole`: all of it, or its start and the mark saying
// how many bytes were left out.
void ExpectWholeOrCut(const std::string& text, const std::string& whole) {
  if (text == whole) return;
  const size_t mark = text.find("\u2026[truncated ");
  ASSERT_NE(mark, std::string::npos) << text.size();
  EXPECT_EQ(whole.substr(0, mark), text.substr(0, mark));
  EXPECT_EQ(text.substr(mark),
            absl::StrCat("\u2026[truncated ", whole.size() - mark, " bytes]"));
}

size_t Count(std::string_view text, std::string_view of) {
  size_t n = 0;
  for (size_t at = text.find(of); at != std::string_view::npos;
       at = text.find(of, at + of.size())) {
    ++n;
  }
  return n;
}

TEST_F(EventSenderTest, EventsReachTheChainInOrderAcrossBatches) {
  EventSender sender(Options(), EventSender::GrpcSend(gateway_.channel));
  // More than two requests' worth.
  const int kEvents = 2 * kMaxEventsPerRequest + 10;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(sender.Enqueue("exec.command", "s-1", "alice", absl::Now(),
                               {{"channel", int64_t{0}},
                                {"host", "web01"},
                                {"command", absl::StrCat("echo ", i)}}));
  }
  ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(120)).ok());
  EXPECT_EQ(sender.sent(), static_cast<uint64_t>(kEvents));
  EXPECT_EQ(sender.queued(), 0u);
  std::vector<storage::AuditEvent> got = Events("exec.command");
  ASSERT_EQ(got.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_TRUE(absl::StrContains(got[i].payload_json,
                                  absl::StrCat("\"command\":\"echo ", i, "\"")))
        << got[i].payload_json;
    EXPECT_TRUE(absl::StrContains(got[i].payload_json, "\"gateway\":\"gw1\""));
    EXPECT_TRUE(
        absl::StrContains(got[i].payload_json, "\"session_id\":\"s-1\""));
    EXPECT_EQ(got[i].actor, "alice");
  }
  ExpectChainIntact();
  std::string text;
  text = registry_.Render();
  EXPECT_TRUE(absl::StrContains(
      text,
      absl::StrCat("sallyport_gateway_audit_events_sent_total ", kEvents)))
      << text;
}

// The CA appended a request whose answer never came (the deadline expired
// after the commit): the sender sends it again, with the same stream and
// numbers, and the CA does not append it twice.
TEST_F(EventSenderTest, ARequestSentAgainAfterALostAnswerIsAppendedOnce) {
  EventSender::Send real = EventSender::GrpcSend(gateway_.channel);
  std::atomic<int> calls{0};
  std::vector<std::string> streams;
  EventSender sender(
      Options(),
      [&](const gateway::v1::RecordGatewayEventsRequest& request,
          absl::Duration timeout) -> absl::Status {
        streams.push_back(request.stream());
        absl::Status st = real(request, timeout);
        if (st.ok() && calls++ == 0) {
          return absl::DeadlineExceededError("deadline exceeded (test)");
        }
        return st;
      });
  EXPECT_EQ(sender.stream().size(), 32u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sender.Enqueue("exec.command", "s-1", "alice", absl::Now(),
                               {{"command", absl::StrCat("echo ", i)}}));
  }
  ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(60)).ok());
  EXPECT_GE(calls.load(), 2);
  for (const std::string& stream : streams) EXPECT_EQ(stream, sender.stream());
  std::vector<storage::AuditEvent> got = Events("exec.command");
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StrContains(got[i].payload_json,
                                  absl::StrCat("\"command\":\"echo ", i, "\"")))
        << got[i].payload_json;
  }
  ExpectChainIntact();
}

// The gateway's exit (GatewayServer::Drain): shipping the recordings
// queues recording.complete (and, for spools left over, session.end
// "interrupted" and recording.repaired) after the drain's flush; they are
// sent before FlushAround returns, even with a batch delay far longer than
// the exit, instead of being left in the queue the destructor drops.
TEST(EventSenderExitTest, EventsQueuedByTheShippingAreSentBeforeTheExit) {
  absl::Mutex mu;
  std::vector<std::string> sent;
  EventSenderOptions options;
  options.batch_delay = absl::Hours(1);
  EventSender sender(options,
                     [&](const gateway::v1::RecordGatewayEventsRequest& request,
                         absl::Duration) -> absl::Status {
                       absl::MutexLock lock(&mu);
                       for (const auto& e : request.events()) {
                         sent.push_back(e.type());
                       }
                       return absl::OkStatus();
                     });
  ASSERT_TRUE(sender.Enqueue("session.end", "s-1", "alice", absl::Now(), {}));
  bool shipped = false;
  absl::Status st = sender.FlushAround(absl::Seconds(30), [&] {
    shipped = true;
    ASSERT_TRUE(
        sender.Enqueue("recording.complete", "s-1", "alice", absl::Now(), {}));
    ASSERT_TRUE(
        sender.Enqueue("recording.repaired", "s-0", "bob", absl::Now(), {}));
  });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_TRUE(shipped);
  EXPECT_EQ(sender.queued(), 0u);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(sent, (std::vector<std::string>{"session.end", "recording.complete",
                                            "recording.repaired"}));
}

// The two flushes share the budget: with the CA unreachable, FlushAround
// returns (the exit is not held up) and says the events were not sent.
TEST(EventSenderExitTest, TheFlushesAroundTheShippingShareOneBudget) {
  EventSenderOptions options;
  options.batch_delay = absl::ZeroDuration();
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(50);
  EventSender sender(options, [](const gateway::v1::RecordGatewayEventsRequest&,
                                 absl::Duration) {
    return absl::UnavailableError("the CA is down");
  });
  ASSERT_TRUE(sender.Enqueue("session.end", "s-1", "alice", absl::Now(), {}));
  absl::Status st = sender.FlushAround(absl::Milliseconds(300), [&] {
    ASSERT_TRUE(
        sender.Enqueue("recording.complete", "s-1", "alice", absl::Now(), {}));
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_EQ(sender.queued(), 2u);
}

// Hostile text (NUL, broken UTF-8, too long, a reserved or repeated field
// name) is made acceptable instead of getting the whole batch refused; a
// text cut says how much was left out.
TEST_F(EventSenderTest, PeerTextIsCleanedForTheCa) {
  EventSender sender(Options(), EventSender::GrpcSend(gateway_.channel));
  std::string command = "cat \xff\xfe";
  command.push_back('\0');
  command += std::string(40000, 'x');
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-2", "alice", absl::Now(),
                             {{"command", command},
                              {"gateway", "forged"},
                              {"command", "again"},
                              {"Bad-Name", "x"}}));
  ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(60)).ok());
  EXPECT_EQ(sender.sent(), 1u);
  EXPECT_EQ(sender.rejected(), 0u);
  std::vector<storage::AuditEvent> got = Events("exec.command");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(absl::StrContains(got[0].payload_json, "\"gateway\":\"gw1\""));
  EXPECT_FALSE(absl::StrContains(got[0].payload_json, "forged"));
  EXPECT_FALSE(absl::StrContains(got[0].payload_json, "again"));
  EXPECT_LE(got[0].payload_json.size(), kMaxEventTextBytes + 512);
  // What was left out of the text as given (7 bytes became "cat " and 3
  // U+FFFD: 13 bytes).
  EXPECT_TRUE(absl::StrContains(
      got[0].payload_json,
      absl::StrCat("x\u2026[truncated ",
                   command.size() - 7 - (kMaxEventTextBytes - 13 - 26),
                   " bytes]\"")))
      << got[0].payload_json.substr(got[0].payload_json.size() - 100);
}

// An event of kMaxFieldsPerEvent texts of kMaxEventTextBytes (over 1 MiB,
// more than the CA takes in a request) has its texts cut to one length
// that fits kMaxEventBytes, each with its start, its name and a mark of
// what was left out. The CA stores it, and the events after it. Found in
// review: sent whole, the CA refused it each time it was sent again, and
// the events behind it never left the queue.
TEST_F(EventSenderTest, AnEventOverItsSizeIsCutAndStoredWithTheOthers) {
  EventSender sender(Options(), Keeping());
  std::vector<base::LogField> fields;
  std::vector<std::string> whole;
  for (int i = 0; i < kMaxFieldsPerEvent; ++i) {
    whole.push_back(absl::StrCat("text ", i, " "));
    whole.back().resize(kMaxEventTextBytes, 'a' + i % 26);
    fields.emplace_back(absl::StrCat("f", 10 + i), whole.back());
  }
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-6", "alice", absl::Now(),
                             {{"command", "first"}}));
  ASSERT_TRUE(
      sender.Enqueue("exec.command", "s-6", "alice", absl::Now(), fields));
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-6", "alice", absl::Now(),
                             {{"command", "second"}}));
  ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(30)).ok());
  EXPECT_EQ(sender.sent(), 3u);
  EXPECT_EQ(sender.rejected(), 0u);

  const std::vector<gateway::v1::GatewayEvent> taken = Taken();
  ASSERT_EQ(taken.size(), 3u);
  const gateway::v1::GatewayEvent& cut = taken[1];
  EXPECT_LE(FieldBytes(cut), kMaxEventBytes);
  EXPECT_GT(FieldBytes(cut), kMaxEventBytes - 2 * kMaxFieldsPerEvent);
  ASSERT_EQ(cut.fields_size(), kMaxFieldsPerEvent);
  for (int i = 0; i < kMaxFieldsPerEvent; ++i) {
    EXPECT_EQ(cut.fields(i).name(), absl::StrCat("f", 10 + i));
    EXPECT_LT(cut.fields(i).text().size(), whole[i].size());
    ExpectWholeOrCut(cut.fields(i).text(), whole[i]);
  }

  std::vector<storage::AuditEvent> got = Events("exec.command");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(absl::StrContains(got[0].payload_json, "\"first\""));
  EXPECT_EQ(Count(got[1].payload_json, "\u2026[truncated "),
            static_cast<size_t>(kMaxFieldsPerEvent));
  for (int i = 0; i < kMaxFieldsPerEvent; ++i) {
    EXPECT_TRUE(absl::StrContains(
        got[1].payload_json, absl::StrCat("\"f", 10 + i, "\":\"text ", i, " ")))
        << i;
  }
  EXPECT_TRUE(absl::StrContains(got[2].payload_json, "\"second\""));
  ExpectChainIntact();
}

// At kMaxEventBytes an event is sent whole; one byte more cuts its longest
// text only, by what it must. Its text is control characters, which JSON
// holds in 6 bytes each: the CA's Store still takes the event at the
// limit.
TEST_F(EventSenderTest, AnEventAtItsSizeIsSentWholeAndOneByteMoreIsCut) {
  EventSender sender(Options(), Keeping());
  // f0 the longest; f1..f9 share the rest.
  constexpr int kFields = 10;
  constexpr size_t kNames = 2 * kFields;
  constexpr size_t kLongest = kMaxEventTextBytes;
  constexpr size_t kOthers =
      (kMaxEventBytes - kNames - kLongest) / (kFields - 1);
  std::vector<std::string> whole;
  for (int i = 0; i < kFields; ++i) {
    whole.emplace_back(i == 0 ? kLongest : kOthers, '\x01');
  }
  whole.back().resize(
      kMaxEventBytes - kNames - kLongest - (kFields - 2) * kOthers, '\x01');
  auto fields = [&whole] {
    std::vector<base::LogField> out;
    for (int i = 0; i < kFields; ++i) {
      out.emplace_back(absl::StrCat("f", i), whole[i]);
    }
    return out;
  };
  ASSERT_TRUE(
      sender.Enqueue("exec.command", "s-7", "alice", absl::Now(), fields()));
  whole.back().push_back('\x01');
  ASSERT_TRUE(
      sender.Enqueue("exec.command", "s-7", "alice", absl::Now(), fields()));
  ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(30)).ok());
  EXPECT_EQ(sender.sent(), 2u);
  EXPECT_EQ(sender.rejected(), 0u);

  const std::vector<gateway::v1::GatewayEvent> taken = Taken();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(FieldBytes(taken[0]), kMaxEventBytes);
  ASSERT_EQ(taken[0].fields_size(), kFields);
  for (int i = 0; i < kFields; ++i) {
    const size_t size =
        i + 1 == kFields ? whole[i].size() - 1 : whole[i].size();
    EXPECT_EQ(taken[0].fields(i).text(), whole[i].substr(0, size)) << i;
  }
  const gateway::v1::GatewayEvent& cut = taken[1];
  EXPECT_LE(FieldBytes(cut), kMaxEventBytes);
  ASSERT_EQ(cut.fields_size(), kFields);
  EXPECT_LT(cut.fields(0).text().size(), kLongest);
  ExpectWholeOrCut(cut.fields(0).text(), whole[0]);
  for (int i = 1; i < kFields; ++i) {
    EXPECT_EQ(cut.fields(i).text(), whole[i]) << i;
  }

  std::vector<storage::AuditEvent> got = Events("exec.command");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(Count(got[0].payload_json, "\\u0001"), kMaxEventBytes - kNames);
  EXPECT_FALSE(absl::StrContains(got[0].payload_json, "truncated"));
  EXPECT_EQ(Count(got[1].payload_json, "\u2026[truncated "), 1u);
  ExpectChainIntact();
}

// The CA refuses a whole request for one bad event; the sender drops that
// one (counted, logged) and sends the others in order.
TEST_F(EventSenderTest, ARefusedEventDoesNotHoldBackTheOthers) {
  EventSender sender(Options(), EventSender::GrpcSend(gateway_.channel));
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-3", "alice", absl::Now(),
                             {{"command", "first"}}));
  // A CA code: the CA refuses it from a gateway.
  ASSERT_TRUE(sender.Enqueue("cert.issued", "s-3", "alice", absl::Now(), {}));
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-3", "alice", absl::Now(),
                             {{"command", "second"}}));
  FlushAndExpectFirstAndSecondOnly(sender);
  EXPECT_TRUE(
      Events("cert.issued").empty() ||
      !absl::StrContains(Events("cert.issued").back().payload_json, "s-3"));
  bool logged = false;
  for (const std::string& l : Lines()) {
    logged |= absl::StrContains(l, "the CA refused event");
  }
  EXPECT_TRUE(logged);
}

// Finding F: the CA refuses an event naming another user than the one a
// session certificate bound its session to; the sender drops that event
// alone, and the honest events around it are appended.
TEST_F(EventSenderTest, ALieAboutABoundSessionsUserDoesNotHoldBackTheOthers) {
  storage::Store& store = env_->store();
  absl::StatusOr<uint64_t> serial = store.AllocateSerial();
  ASSERT_TRUE(serial.ok()) << serial.status();
  storage::IssuedCertificate cert;
  cert.serial = *serial;
  cert.key_id = "alice@s-5";
  cert.user = "alice";
  cert.principals = {"ubuntu"};
  cert.valid_after = absl::Now();
  cert.valid_before = cert.valid_after + absl::Minutes(2);
  cert.public_key_fingerprint = "SHA256:ephemeral";
  cert.ca_key_fingerprint = "SHA256:session-ca";
  cert.purpose = storage::CertificatePurpose::kSession;
  ASSERT_TRUE(
      store
          .RecordSessionCertificate(cert, {"cert.issued", "gateway:gw1", "{}"},
                                    {"s-5", "gw1", "alice", "ubuntu", "web01"})
          .ok());
  EventSender sender(Options(), EventSender::GrpcSend(gateway_.channel));
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-5", "alice", absl::Now(),
                             {{"login", "ubuntu"}, {"command", "first"}}));
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-5", "bob", absl::Now(),
                             {{"login", "ubuntu"}, {"command", "lie"}}));
  ASSERT_TRUE(sender.Enqueue("exec.command", "s-5", "alice", absl::Now(),
                             {{"login", "ubuntu"}, {"command", "second"}}));
  FlushAndExpectFirstAndSecondOnly(sender);
  EXPECT_FALSE(Events("gateway.events.refused").empty());
  for (const storage::AuditEvent& e : Events("gateway.events.refused")) {
    EXPECT_TRUE(absl::StrContains(e.payload_json, "\"claimed_user\":\"bob\""))
        << e.payload_json;
  }
  ExpectChainIntact();
}

// While the CA cannot be reached the queue holds `queue_limit` events;
// beyond, events are dropped, counted and said once in the log. When the
// CA is reachable again the queued ones arrive.
TEST_F(EventSenderTest, QueueStopsAtItsLimitWhileTheCaIsDown) {
  constexpr size_t kLimit = 50;
  EventSenderOptions o = Options();
  // Failures go to `warn` (the gateway logs them at warn/error level).
  o.warn = [this](std::string_view line) {
    absl::MutexLock lock(&mu_);
    lines_.push_back("WARN " + std::string(line));
  };
  o.queue_limit = kLimit;
  o.rpc_timeout = absl::Seconds(2);
  std::atomic<bool> ca_up{false};
  EventSender::Send real = EventSender::GrpcSend(gateway_.channel);
  // The CA "down" is a real unreachable address, not a fake reply.
  auto dead =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  EventSender::Send unreachable = EventSender::GrpcSend(dead);
  EventSender sender(o, [&](const gateway::v1::RecordGatewayEventsRequest& r,
                            absl::Duration timeout) {
    return ca_up.load() ? real(r, timeout) : unreachable(r, timeout);
  });
  for (size_t i = 0; i < kLimit + 20; ++i) {
    const bool queued =
        sender.Enqueue("exec.command", "s-4", "alice", absl::Now(),
                       {{"command", absl::StrCat("cmd ", i)}});
    EXPECT_EQ(queued, i < kLimit) << i;
  }
  EXPECT_EQ(sender.queued(), kLimit);
  EXPECT_EQ(sender.dropped(), 20u);
  EXPECT_FALSE(sender.Flush(absl::Now() + absl::Seconds(1)).ok());
  std::string text;
  text = registry_.Render();
  EXPECT_TRUE(absl::StrContains(
      text, "sallyport_gateway_audit_events_dropped_total 20"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, absl::StrCat("sallyport_gateway_audit_events_queued ", kLimit)))
      << text;
  int full_lines = 0, cannot_send = 0;
  for (const std::string& l : Lines()) {
    if (absl::StartsWith(l, "WARN the audit event queue is full")) ++full_lines;
    if (absl::StartsWith(l, "WARN cannot send audit events")) ++cannot_send;
  }
  EXPECT_EQ(full_lines, 1);
  EXPECT_EQ(cannot_send, 1);
  EXPECT_TRUE(Events("exec.command").empty());

  ca_up = true;
  ASSERT_TRUE(sender.Flush(absl::Now() + absl::Seconds(120)).ok());
  std::vector<storage::AuditEvent> got = Events("exec.command");
  ASSERT_EQ(got.size(), kLimit);
  EXPECT_TRUE(absl::StrContains(got.front().payload_json, "\"cmd 0\""));
  EXPECT_TRUE(absl::StrContains(got.back().payload_json,
                                absl::StrCat("\"cmd ", kLimit - 1, "\"")));
  // The drop is summed up once the queue has room again (a failure); the
  // CA's return is not one.
  bool summary = false, back = false;
  for (const std::string& l : Lines()) {
    summary |= absl::StartsWith(l, "WARN 20 audit events were dropped");
    back |= absl::StartsWith(l, "the CA takes audit events again");
  }
  EXPECT_TRUE(summary);
  EXPECT_TRUE(back);
  ExpectChainIntact();
}

// The events of one connect arrive over a few hundred ms: the sender waits
// batch_delay after the first one, so they go to the CA in one request.
TEST_F(EventSenderTest, EventsArrivingTogetherShareOneRequest) {
  EventSenderOptions o = Options();
  o.batch_delay = absl::Seconds(5);  // far above a preempted loop of 5
  std::atomic<int> requests{0};
  EventSender::Send grpc = EventSender::GrpcSend(gateway_.channel);
  EventSender sender(o, [&](const gateway::v1::RecordGatewayEventsRequest& r,
                            absl::Duration timeout) {
    requests.fetch_add(1);
    return grpc(r, timeout);
  });
  constexpr int kEvents = 5;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(sender.Enqueue("exec.command", "s-1", "alice", absl::Now(),
                               {{"command", absl::StrCat("cmd ", i)}}));
  }
  // Not Flush (it does not wait): the sender sends on its own.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (sender.sent() < kEvents && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(sender.sent(), static_cast<uint64_t>(kEvents));
  EXPECT_EQ(requests.load(), 1);
  EXPECT_EQ(Events("exec.command").size(), static_cast<size_t>(kEvents));
}

TEST_F(EventSenderTest, DefaultLimitIsNamed) {
  EXPECT_EQ(EventSenderOptions().queue_limit, kDefaultEventQueueLimit);
  EXPECT_EQ(kDefaultEventQueueLimit, 10000u);
}

}  // namespace
}  // namespace sallyport::gateway
