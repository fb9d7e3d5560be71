// The gateway's audit event sender (issue 14 "Events", DESIGN.md §9): the
// gateway's events (session start/end, channels, exec command lines, port
// forwards, jumps, file transfers, recordings) go to the CA's
// GatewayEvents.RecordGatewayEvents over the gateway's mTLS identity; only
// the CA writes the hash-chained log.
//
// Events wait in a bounded in-memory queue (EventSenderOptions::queue_limit,
// default kDefaultEventQueueLimit). One sender thread sends them in order,
// in batches of at most kMaxEventsPerRequest and kMaxEventRequestBytes, and
// retries with exponential backoff while the CA is unreachable or refuses
// for now (RESOURCE_EXHAUSTED: overloaded, or the gateway is over its
// write budget at the CA). When the queue is full a new event is
// dropped: counted in sallyport_gateway_audit_events_dropped_total and said
// in the gateway log (the event's own log line, written by GatewayOps before
// it is queued, stays the source of truth). An event the CA refuses for
// good (INVALID_ARGUMENT, PERMISSION_DENIED) is dropped alone, counted in
// ..._rejected_total and logged; the rest of its batch is sent.
//
// Each sender names its run with a random stream and numbers its events
// from 1 in the order queued (RecordGatewayEventsRequest.stream,
// GatewayEvent.number): a request sent again after a failure or a lost
// answer (the CA may have appended it) is not appended twice.
//
// Flush() sends what is queued (drain, SIGTERM); the destructor stops the
// thread without sending.
#ifndef SALLYPORT_GATEWAY_EVENT_SENDER_H_
#define SALLYPORT_GATEWAY_EVENT_SENDER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "audit/events.h"
#include "base/event_line.h"
#include "base/steady_mutex.h"
#include "gateway/metrics.h"
#include "proto/gateway.pb.h"

namespace sallyport::gateway {

// Events held while the CA is unreachable; beyond, new events are dropped.
inline constexpr size_t kDefaultEventQueueLimit = 10000;
// The CA's request limits (ca/gateway_events_service.h).
inline constexpr int kMaxEventsPerRequest = 256;
// The events' bytes one request carries at most (it always carries at
// least one event): half of what the CA takes in a message
// (CaServer::kMaxReceiveMessageBytes, 1 MiB). 256 events of long command
// lines make a request the CA refuses (RESOURCE_EXHAUSTED) each time it
// is sent again.
inline constexpr size_t kMaxEventRequestBytes = size_t{512} << 10;
// One event's limits, the CA's (audit/events.h): fields, bytes of a text,
// bytes of its fields' names and texts in all. A text over its limit, or
// the longest texts of an event over its, are cut and end in
// "…[truncated N bytes]" (N: the bytes left out).
inline constexpr int kMaxFieldsPerEvent = audit::kMaxGatewayEventFields;
inline constexpr size_t kMaxEventTextBytes = audit::kMaxGatewayEventTextBytes;
inline constexpr size_t kMaxEventBytes = audit::kMaxGatewayEventBytes;
inline constexpr size_t kMaxEventSessionIdBytes = 64;
// An event at the limit, with its encoding, the session, the user and the
// code, goes in a request alone.
static_assert(kMaxEventBytes + 16 * kMaxFieldsPerEvent + 4096 <=
              kMaxEventRequestBytes);

struct EventSenderOptions {
  size_t queue_limit = kDefaultEventQueueLimit;
  // Backoff after a failed send: doubles from `initial_backoff` up to
  // `max_backoff`.
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(10);
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Once an event is queued, the sender waits up to this long for more
  // before it sends (one RPC for the several events of a connect instead
  // of one each: CA calls are most of the gateway's CPU per session). A
  // full batch, Flush() and the destructor do not wait. Zero: no wait.
  absl::Duration batch_delay = absl::Milliseconds(250);
  // Lines about the sender itself (the CA coming back).
  std::function<void(std::string_view line)> log;
  // Its failures (drops, refusals, a CA it cannot reach); unset: `log`.
  std::function<void(std::string_view line)> warn;
  // Registers the sender's metrics when set.
  MetricsRegistry* registry = nullptr;
};

class EventSender {
 public:
  // Sends one request (the real one: GrpcSend).
  using Send = std::function<absl::Status(
      const gateway::v1::RecordGatewayEventsRequest&, absl::Duration timeout)>;
  // GatewayEvents.RecordGatewayEvents on `channel` (the gateway's mTLS
  // channel to the CA).
  static Send GrpcSend(std::shared_ptr<grpc::Channel> channel);
  // The same on whatever channel `channel` returns at each send (the
  // gateway replaces its channel when its mTLS certificate changes).
  static Send GrpcSend(std::function<std::shared_ptr<grpc::Channel>()> channel);

  EventSender(EventSenderOptions options, Send send);
  ~EventSender();
  EventSender(const EventSender&) = delete;
  EventSender& operator=(const EventSender&) = delete;

  // Builds an event of `code` for `session_id` (user may be empty) from log
  // fields and queues it. Text is made valid UTF-8 without NUL and cut to
  // kMaxEventTextBytes; when the fields' names and texts hold more than
  // kMaxEventBytes, the longest texts are cut to one length, the longest
  // that fits (shorter texts and every field name are kept). A cut text
  // ends in "…[truncated N bytes]". Fields beyond kMaxFieldsPerEvent and
  // names the CA reserves are left out. False when dropped (queue full, no
  // session).
  bool Enqueue(std::string_view code, std::string_view session_id,
               std::string_view user, absl::Time at,
               const std::vector<base::LogField>& fields);

  // Waits until every event queued before the call was sent (or refused),
  // or `deadline` (taken as a wait from now, at the call: a wall-clock
  // step during the wait does not move its end). OK when they all went;
  // DEADLINE_EXCEEDED otherwise.
  absl::Status Flush(absl::Time deadline);

  // The random name of this sender's run (32 hex digits).
  const std::string& stream() const { return stream_; }

  // The gateway's exit: Flush, then `ship` (sending the recordings queues
  // events: recording.complete, and session.end "interrupted" and
  // recording.repaired for spools left over), then Flush again for what
  // `ship` queued (the destructor does not send them). The two flushes
  // share `budget`: the second gets what the first left, counted from
  // when `ship` returns. Logs what was sent or not. OK when everything
  // went.
  absl::Status FlushAround(absl::Duration budget,
                           absl::FunctionRef<void()> ship);

  size_t queued() const;
  uint64_t sent() const;
  uint64_t dropped() const;
  uint64_t rejected() const;

 private:
  // Numbers `event` and queues it.
  bool Enqueue(gateway::v1::GatewayEvent event);
  void Run();
  // Sends `batch`; on a permanent refusal of a batch, each event alone.
  // Counts what finished from the front of `batch`; not OK when the CA
  // could not be reached (the rest is retried).
  absl::Status SendBatch(const std::vector<gateway::v1::GatewayEvent>& batch,
                         size_t* sent, size_t* rejected);
  void Log(std::string_view line);
  void Warn(std::string_view line);

  const EventSenderOptions options_;
  const Send send_;
  const std::string stream_;
  // Timed waits (batch_delay, the backoff, Flush) on the steady clock: a
  // wall clock set back does not stretch them.
  mutable base::SteadyMutex mu_;
  // The number of the next event queued.
  uint64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<gateway::v1::GatewayEvent> queue_ ABSL_GUARDED_BY(mu_);
  // Events ever queued / ever finished (sent or refused), for Flush.
  uint64_t queued_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t done_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  // Drops since the queue was last below its limit (logged once per run).
  uint64_t dropping_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int flushing_ ABSL_GUARDED_BY(mu_) = 0;  // Flush() calls waiting
  Counter* sent_metric_ = nullptr;
  Counter* dropped_metric_ = nullptr;
  Counter* rejected_metric_ = nullptr;
  Gauge* queued_metric_ = nullptr;
  std::thread thread_;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_EVENT_SENDER_H_
