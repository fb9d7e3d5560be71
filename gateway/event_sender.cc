#include "gateway/event_sender.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/plural.h"
#include "base/safe_text.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::gateway {
namespace {

namespace pb = gateway::v1;

// Valid UTF-8 without NUL, at most `max` bytes (cut on a character
// boundary); invalid bytes and NUL become U+FFFD. `*used`: the bytes of
// `s` it holds.
std::string CleanText(std::string_view s, size_t max, size_t* used = nullptr) {
  std::string out;
  out.reserve(std::min(s.size(), max));
  size_t i = 0;
  while (i < s.size()) {
    size_t n = base::Utf8SequenceLength(s, i);
    std::string_view piece =
        (n == 0 || s[i] == '\0') ? "\xEF\xBF\xBD" : s.substr(i, n);
    if (out.size() + piece.size() > max) break;
    out.append(piece);
    i += n == 0 ? 1 : n;
  }
  if (used != nullptr) *used = i;
  return out;
}

// The marker a cut text ends in, N the bytes left out.
std::string CutMark(size_t left_out) {
  return absl::StrCat("\u2026[truncated ", left_out, " bytes]");
}

// CleanText of `s` when all of it fits in `max` bytes; else its first
// bytes and CutMark, at most `max` bytes in all (`max` is far above the
// mark's at most 41 bytes: kMinCutTextBytes).
std::string CutText(std::string_view s, size_t max) {
  size_t used = 0;
  std::string out = CleanText(s, max, &used);
  if (used == s.size()) return out;
  // The mark for all of `s`: as long as any the cut needs, or longer.
  const size_t mark = CutMark(s.size()).size();
  out = CleanText(s, max > mark ? max - mark : 0, &used);
  out += CutMark(s.size() - used);
  return out;
}

// The shortest an event's longest texts are cut to: the texts of
// kMaxFieldsPerEvent fields with the longest names share kMaxEventBytes.
constexpr size_t kMinCutTextBytes =
    (kMaxEventBytes - 32 * kMaxFieldsPerEvent) / kMaxFieldsPerEvent;
static_assert(kMinCutTextBytes >= 1024);

// Cuts the longest texts of `e` to one length, the longest with which its
// fields' names and texts hold at most kMaxEventBytes. `whole[i]`: field
// i's text as given (CutText counts what it leaves out of that).
void CapEventBytes(const std::vector<std::string>& whole, pb::GatewayEvent* e) {
  size_t names = 0, texts = 0;
  for (const pb::GatewayEventField& f : e->fields()) {
    names += f.name().size();
    texts += f.text().size();
  }
  if (names + texts <= kMaxEventBytes) return;
  const auto fits = [&](size_t keep) {
    size_t total = names;
    for (const pb::GatewayEventField& f : e->fields()) {
      total += std::min(f.text().size(), keep);
    }
    return total <= kMaxEventBytes;
  };
  size_t keep = kMinCutTextBytes, over = kMaxEventTextBytes;  // fits, not
  while (over - keep > 1) {
    const size_t mid = keep + (over - keep) / 2;
    (fits(mid) ? keep : over) = mid;
  }
  for (int i = 0; i < e->fields_size(); ++i) {
    pb::GatewayEventField* f = e->mutable_fields(i);
    if (f->text().size() > keep) f->set_text(CutText(whole[i], keep));
  }
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  // Set by the CA from the caller and from the event itself.
  return name != "gateway" && name != "session_id" && name != "at" &&
         name != "user";
}

bool Permanent(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

// 16 random bytes in hex: unique per run of a gateway's sender.
std::string NewStream() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // Not expected; the time still tells this run from the others.
    const int64_t now = absl::ToUnixNanos(absl::Now());
    std::memcpy(bytes, &now, sizeof(now));
    std::memset(bytes + sizeof(now), 0, sizeof(bytes) - sizeof(now));
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

EventSender::Send EventSender::GrpcSend(
    std::shared_ptr<grpc::Channel> channel) {
  return GrpcSend([channel] { return channel; });
}

EventSender::Send EventSender::GrpcSend(
    std::function<std::shared_ptr<grpc::Channel>()> channel) {
  return [channel = std::move(channel)](
             const pb::RecordGatewayEventsRequest& request,
             absl::Duration timeout) -> absl::Status {
    std::unique_ptr<pb::GatewayEvents::Stub> stub =
        pb::GatewayEvents::NewStub(channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    pb::RecordGatewayEventsResponse response;
    grpc::Status st = stub->RecordGatewayEvents(&ctx, request, &response);
    if (st.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        st.error_message());
  };
}

EventSender::EventSender(EventSenderOptions options, Send send)
    : options_(std::move(options)),
      send_(std::move(send)),
      stream_(NewStream()) {
  if (options_.registry != nullptr) {
    MetricsRegistry& r = *options_.registry;
    sent_metric_ = &r.AddCounter("sallyport_gateway_audit_events_sent_total",
                                 "Audit events the CA accepted.")
                        .Get();
    dropped_metric_ =
        &r.AddCounter("sallyport_gateway_audit_events_dropped_total",
                      "Audit events dropped because the queue was full (the "
                      "gateway log still has each).")
             .Get();
    rejected_metric_ =
        &r.AddCounter("sallyport_gateway_audit_events_rejected_total",
                      "Audit events the CA refused for good.")
             .Get();
    queued_metric_ = &r.AddGauge("sallyport_gateway_audit_events_queued",
                                 "Audit events waiting to be sent to the CA.")
                          .Get();
  }
  thread_ = std::thread([this] { Run(); });
}

EventSender::~EventSender() {
  {
    base::SteadyMutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void EventSender::Log(std::string_view line) {
  if (options_.log) options_.log(line);
}

void EventSender::Warn(std::string_view line) {
  if (options_.warn) {
    options_.warn(line);
  } else {
    Log(line);
  }
}

bool EventSender::Enqueue(std::string_view code, std::string_view session_id,
                          std::string_view user, absl::Time at,
                          const std::vector<base::LogField>& fields) {
  pb::GatewayEvent e;
  e.set_type(std::string(code));
  e.set_session_id(CleanText(session_id, kMaxEventSessionIdBytes));
  e.set_user(CleanText(user, 256));
  e.mutable_at()->set_seconds(absl::ToUnixSeconds(at));
  e.mutable_at()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(
      at - absl::FromUnixSeconds(absl::ToUnixSeconds(at)))));
  std::set<std::string_view> seen;
  // Each field's text as given ("" for a number or flag).
  std::vector<std::string> whole;
  for (const base::LogField& f : fields) {
    if (e.fields_size() >= kMaxFieldsPerEvent) break;
    if (!ValidName(f.first) || !seen.insert(f.first).second) continue;
    pb::GatewayEventField* out = e.add_fields();
    out->set_name(f.first);
    std::string& text = whole.emplace_back();
    if (const auto* s = std::get_if<std::string>(&f.second)) {
      text = *s;
      out->set_text(CutText(text, kMaxEventTextBytes));
    } else if (const auto* n = std::get_if<int64_t>(&f.second)) {
      out->set_number(*n);
    } else if (const auto* b = std::get_if<bool>(&f.second)) {
      out->set_flag(*b);
    } else if (const auto* v =
                   std::get_if<std::vector<std::string>>(&f.second)) {
      text = absl::StrJoin(*v, ",");
      out->set_text(CutText(text, kMaxEventTextBytes));
    }
  }
  CapEventBytes(whole, &e);
  return Enqueue(std::move(e));
}

bool EventSender::Enqueue(pb::GatewayEvent event) {
  if (event.session_id().empty()) return false;
  uint64_t first_drop = 0;
  {
    base::SteadyMutexLock lock(&mu_);
    if (queue_.size() >= options_.queue_limit) {
      ++dropped_;
      if (dropped_metric_ != nullptr) dropped_metric_->Inc();
      if (++dropping_ == 1) first_drop = dropped_;
    } else {
      event.set_number(next_number_++);
      queue_.push_back(std::move(event));
      ++queued_total_;
      if (queued_metric_ != nullptr) queued_metric_->Add(1);
      return true;
    }
  }
  if (first_drop != 0) {
    Warn(absl::StrCat("the audit event queue is full (limit ",
                      options_.queue_limit,
                      "): new events are dropped until the CA takes them; "
                      "each is still in this log; dropped so far: ",
                      first_drop));
  }
  return false;
}

absl::Status EventSender::SendBatch(const std::vector<pb::GatewayEvent>& batch,
                                    size_t* sent, size_t* rejected) {
  pb::RecordGatewayEventsRequest request;
  request.set_stream(stream_);
  for (const pb::GatewayEvent& e : batch) *request.add_events() = e;
  absl::Status st = send_(request, options_.rpc_timeout);
  if (st.ok()) {
    *sent += batch.size();
    return st;
  }
  if (!Permanent(st)) return st;
  if (batch.size() == 1) {
    ++*rejected;
    Warn(absl::StrCat("the CA refused event ", base::SafeText(batch[0].type()),
                      " of session ", base::SafeText(batch[0].session_id()),
                      ": ", base::SafeText(std::string(st.message()))));
    return absl::OkStatus();
  }
  // Find the event(s) the CA refuses; send the others.
  for (const pb::GatewayEvent& e : batch) {
    absl::Status one = SendBatch({e}, sent, rejected);
    if (!one.ok()) return one;
  }
  return absl::OkStatus();
}

void EventSender::Run() {
  absl::Duration backoff = options_.initial_backoff;
  bool down = false;
  for (;;) {
    std::vector<pb::GatewayEvent> batch;
    {
      base::SteadyMutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](EventSender* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->stop_ || !s->queue_.empty();
          },
          this));
      if (stop_) return;
      if (!down && options_.batch_delay > absl::ZeroDuration()) {
        mu_.AwaitWithTimeout(
            absl::Condition(
                +[](EventSender* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
                  return s->stop_ || s->flushing_ > 0 ||
                         s->queue_.size() >= kMaxEventsPerRequest;
                },
                this),
            options_.batch_delay);
        if (stop_) return;
      }
      size_t bytes = 0;
      for (const pb::GatewayEvent& e : queue_) {
        if (batch.size() >= kMaxEventsPerRequest) break;
        bytes += e.ByteSizeLong();
        if (!batch.empty() && bytes > kMaxEventRequestBytes) break;
        batch.push_back(e);
      }
    }
    size_t sent = 0, rejected = 0;
    absl::Status st = SendBatch(batch, &sent, &rejected);
    uint64_t dropped_summary = 0;
    size_t left = 0;
    {
      base::SteadyMutexLock lock(&mu_);
      const size_t done = sent + rejected;
      queue_.erase(queue_.begin(), queue_.begin() + done);
      sent_ += sent;
      rejected_ += rejected;
      if (queued_metric_ != nullptr) queued_metric_->Add(-int64_t(done));
      if (sent_metric_ != nullptr) sent_metric_->Inc(sent);
      if (rejected_metric_ != nullptr) rejected_metric_->Inc(rejected);
      if (done > 0 && dropping_ > 0 && queue_.size() < options_.queue_limit) {
        dropped_summary = dropping_;
        dropping_ = 0;
      }
      left = queue_.size();
    }
    if (dropped_summary != 0) {
      Warn(absl::StrCat(dropped_summary,
                        " audit events were dropped while the queue was full "
                        "(they are only in this log)"));
    }
    if (st.ok() && down) {
      Log(absl::StrCat("the CA takes audit events again; queued: ", left));
    }
    {
      // Counted as done only now: a Flush that returns has the log lines
      // about its events behind it (event_sender_test read the drop
      // summary's absence once, right after its Flush).
      base::SteadyMutexLock lock(&mu_);
      done_total_ += sent + rejected;
    }
    if (st.ok()) {
      down = false;
      backoff = options_.initial_backoff;
      continue;
    }
    if (!down) {
      Warn(absl::StrCat("cannot send audit events to the CA (",
                        base::SafeText(std::string(st.message())), "); ", left,
                        " queued, retrying with backoff"));
    }
    down = true;
    base::SteadyMutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), backoff);
    if (stop_) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::Status EventSender::Flush(absl::Time deadline) {
  base::SteadyMutexLock lock(&mu_);
  ++flushing_;  // no batch_delay while a Flush waits
  const uint64_t target = queued_total_;
  struct Arg {
    EventSender* s;
    uint64_t target;
  } arg{this, target};
  mu_.AwaitWithDeadline(absl::Condition(
                            +[](Arg* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                              return a->s->done_total_ >= a->target;
                            },
                            &arg),
                        deadline);
  --flushing_;
  if (done_total_ >= target) return absl::OkStatus();
  const uint64_t unsent = target - done_total_;
  return absl::DeadlineExceededError(
      absl::StrCat(base::Plural(unsent, "audit event"),
                   unsent == 1 ? " was" : " were", " not sent"));
}

absl::Status EventSender::FlushAround(absl::Duration budget,
                                      absl::FunctionRef<void()> ship) {
  // What the first flush used is measured on the monotonic clock: a wall
  // clock set back during it would add the step to the second one's wait.
  const base::Clock* real = base::Clock::Real();
  const absl::Duration start = real->Monotonic();
  absl::Status first = Flush(absl::Now() + budget);
  const absl::Duration left = budget - (real->Monotonic() - start);
  if (first.ok()) {
    Log("audit events sent");
  } else {
    Warn(absl::StrCat("audit events: ", first.message()));
  }
  ship();
  uint64_t queued;
  {
    base::SteadyMutexLock lock(&mu_);
    queued = queued_total_ - done_total_;
  }
  if (queued == 0) return first;
  absl::Status second = Flush(absl::Now() + left);
  if (second.ok()) {
    Log(absl::StrCat("audit events of the recordings shipped at exit sent (",
                     queued, ")"));
  } else {
    Warn(absl::StrCat("audit events of the recordings shipped at exit: ",
                      second.message()));
  }
  return first.ok() ? second : first;
}

size_t EventSender::queued() const {
  base::SteadyMutexLock lock(&mu_);
  return queue_.size();
}
uint64_t EventSender::sent() const {
  base::SteadyMutexLock lock(&mu_);
  return sent_;
}
uint64_t EventSender::dropped() const {
  base::SteadyMutexLock lock(&mu_);
  return dropped_;
}
uint64_t EventSender::rejected() const {
  base::SteadyMutexLock lock(&mu_);
  return rejected_;
}

}  // namespace sallyport::gateway
