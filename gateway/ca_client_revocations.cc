// CaClient's revocation list (see ca_client.h): the catch-up with
// ListRevocations, the WatchRevocations stream that keeps it current, and
// the checks against it (fail closed once the stream has been down longer
// than revocation_grace).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "gateway/ca_client.h"
#include "grpcpp/channel.h"

namespace sallyport::gateway {
namespace {

// WaitToReconnect returns early, when the CA is reachable again, no sooner
// than this: a CA that accepts connections and ends them at once is not
// called more than twice a second.
constexpr absl::Duration kEarliestReconnectAfterDown = absl::Milliseconds(500);

}  // namespace

void CaClient::AddRevocation(const cav1::Revocation& r) {
  last_revocation_id_ = std::max(last_revocation_id_, r.id());
  if (revoked_serials_.size() + revoked_keys_.size() >=
      options_.max_revocations) {
    overflow_ = true;
    return;
  }
  if (r.target_case() == cav1::Revocation::kSerial) {
    revoked_serials_.insert(r.serial());
  } else if (r.target_case() == cav1::Revocation::kKeyFingerprint) {
    revoked_keys_.insert(r.key_fingerprint());
  }
}

absl::Status CaClient::CatchUp() {
  for (;;) {
    cav1::ListRevocationsRequest request;
    {
      base::SteadyMutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("stopping");
      request.set_after_id(last_revocation_id_);
    }
    request.set_limit(10000);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_deadline));
    cav1::ListRevocationsResponse response;
    const absl::Duration start = clock_->Monotonic();
    grpc::Status st = stubs()->ca->ListRevocations(&ctx, request, &response);
    if (options_.on_rpc)
      options_.on_rpc("ListRevocations", clock_->Monotonic() - start);
    if (!st.ok()) return FromGrpc(st);
    bool done = false;
    bool report = false;
    {
      base::SteadyMutexLock lock(&mu_);
      // Once the list was loaded, what a catch-up brings was revoked while
      // the stream was down: the connections using it are ended as for a
      // streamed revocation (else they would live on until their
      // certificate expires, only refused new channels).
      report = loaded_;
      for (const cav1::Revocation& r : response.revocations()) AddRevocation(r);
      // The CA cuts a page at `limit` or at 1 MiB (long reasons), and says
      // whether more follow.
      if (!response.more()) {
        loaded_ = true;
        done = true;
      }
    }
    // Each page starts after the one before, or this would never end.
    if (!done && response.revocations().empty()) {
      return absl::InternalError(
          "ListRevocations: the CA's next page does not start after this one");
    }
    if (report) {
      for (const cav1::Revocation& r : response.revocations()) Report(r);
    }
    if (done) return absl::OkStatus();
  }
}

void CaClient::Report(const cav1::Revocation& r) {
  if (!options_.on_revocation) return;
  if (r.target_case() == cav1::Revocation::kSerial) {
    options_.on_revocation(r.serial(), "");
  } else if (r.target_case() == cav1::Revocation::kKeyFingerprint) {
    options_.on_revocation(0, r.key_fingerprint());
  }
}

void CaClient::MarkDown() {
  base::SteadyMutexLock lock(&mu_);
  if (!down_since_.has_value()) down_since_ = clock_->Monotonic();
}

void CaClient::WatchLoop() {
  absl::Duration backoff = options_.reconnect_initial;
  // A "stream down" line was logged: its "back" line is due.
  bool logged_down = false;
  for (;;) {
    {
      base::SteadyMutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::Status st = CatchUp();
    if (st.ok()) {
      grpc::ClientContext ctx;
      cav1::WatchRevocationsRequest request;
      std::string back;  // the log line when the stream was down
      {
        base::SteadyMutexLock lock(&mu_);
        if (stopping_) return;
        request.set_after_id(last_revocation_id_);
        stream_context_ = &ctx;
        // Caught up: the list is current again.
        if (logged_down && down_since_.has_value()) {
          back = absl::StrCat(
              "ca: revocation stream back after ",
              absl::FormatDuration(absl::Trunc(
                  clock_->Monotonic() - *down_since_, absl::Milliseconds(1))),
              " down; caught up to revocation ", last_revocation_id_);
        }
        down_since_.reset();
        if (!overflow_) stale_reported_ = false;
        ++stream_connects_;
      }
      if (!back.empty()) {
        logged_down = false;
        if (options_.log_recovered) options_.log_recovered(back);
      }
      backoff = options_.reconnect_initial;
      std::shared_ptr<const Stubs> stubs = this->stubs();
      std::unique_ptr<grpc::ClientReader<cav1::Revocation>> reader =
          stubs->ca->WatchRevocations(&ctx, request);
      cav1::Revocation r;
      while (reader->Read(&r)) {
        {
          base::SteadyMutexLock lock(&mu_);
          AddRevocation(r);
        }
        Report(r);
        MaybeReportStale();  // the list may have overflowed
      }
      st = FromGrpc(reader->Finish());
      base::SteadyMutexLock lock(&mu_);
      stream_context_ = nullptr;
    }
    MarkDown();
    {
      base::SteadyMutexLock lock(&mu_);
      if (stopping_) return;
    }
    Log(absl::StrCat("ca: revocation stream down (", st.ToString(),
                     "); retrying in ", absl::FormatDuration(backoff)));
    logged_down = true;
    if (!WaitToReconnect(backoff)) return;
    backoff = std::min(backoff * 2, options_.reconnect_max);
  }
}

bool CaClient::revocations_current() const {
  base::SteadyMutexLock lock(&mu_);
  return CurrentLocked();
}

bool CaClient::CurrentLocked() const {
  // Never loaded (the CA has not answered since we started): not current.
  if (overflow_ || !loaded_) return false;
  // The monotonic clock: a wall clock set forward or back neither ends
  // the grace early nor stretches it.
  return !down_since_.has_value() ||
         clock_->Monotonic() - *down_since_ <= options_.revocation_grace;
}

std::string CaClient::StaleReason() const {
  base::SteadyMutexLock lock(&mu_);
  return StaleReasonLocked();
}

std::string CaClient::StaleReasonLocked() const {
  if (CurrentLocked()) return "";
  if (overflow_) {
    return absl::StrCat("the revocation list outgrew max_revocations (",
                        options_.max_revocations, ")");
  }
  if (!loaded_) return "the CA has not answered since the gateway started";
  return "the CA has been unreachable longer than revocation_grace";
}

void CaClient::MaybeReportStale() {
  std::string why;
  {
    base::SteadyMutexLock lock(&mu_);
    if (stale_reported_ || CurrentLocked()) return;
    stale_reported_ = true;
    why = StaleReasonLocked();
  }
  Log(absl::StrCat("ca: the revocation list is no longer current: ", why));
  if (options_.on_stale) options_.on_stale(why);
}

bool CaClient::WaitToReconnect(absl::Duration backoff) {
  // The waits are real (clock_ may be a test clock that never moves), on
  // the real monotonic clock: a wall clock set back must not stretch them.
  const base::Clock* real = base::Clock::Real();
  const absl::Duration start = real->Monotonic();
  const absl::Duration wake = start + backoff;
  const absl::Duration earliest =
      start + std::min(backoff, kEarliestReconnectAfterDown);
  const std::shared_ptr<grpc::Channel> channel = stubs()->channel;
  // Whether the channel was seen without a connection during this wait.
  bool seen_down = false;
  for (;;) {
    MaybeReportStale();
    if (channel != nullptr) {
      // try_to_connect also starts an attempt when the channel went idle.
      const grpc_connectivity_state state =
          channel->GetState(/*try_to_connect=*/true);
      const bool ready = state == GRPC_CHANNEL_READY;
      seen_down = seen_down || !ready;
      if (ready && seen_down && real->Monotonic() >= earliest) return true;
      if (state == GRPC_CHANNEL_TRANSIENT_FAILURE &&
          real->Monotonic() >= wake) {
        // The stream's retry comes next: the channel's next attempt now,
        // on this loop's steady schedule (at most every reconnect_max),
        // not on gRPC's backoff timer. gRPC's timers wait on the wall
        // clock, and a step back stretches the wait in progress by the
        // step: the CA back, the channel still failed ("Connection
        // refused"), the list stale and every login refused.
        grpc::experimental::ChannelResetConnectionBackoff(channel.get());
      }
    }
    base::SteadyMutexLock lock(&mu_);
    if (stopping_) return false;
    const absl::Duration now = real->Monotonic();
    if (now >= wake) return true;
    absl::Duration until =
        std::min(wake, std::max(now + options_.reconnect_poll, earliest));
    if (!stale_reported_ && down_since_.has_value()) {
      // The grace's end, timed on the real clock.
      until =
          std::min(until, now + (*down_since_ + options_.revocation_grace -
                                 clock_->Monotonic() + absl::Milliseconds(1)));
    }
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), until - now);
  }
}

absl::Status CaClient::CheckNotRevoked(uint64_t serial,
                                       std::string_view key_fingerprint) const {
  if (!revocations_current()) {
    return absl::UnavailableError(
        absl::StrCat(kRevocationListStale,
                     " (the CA has been unreachable longer than "
                     "revocation_grace)"));
  }
  base::SteadyMutexLock lock(&mu_);
  if (revoked_serials_.contains(serial)) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate serial ", serial, " is revoked"));
  }
  if (revoked_keys_.find(key_fingerprint) != revoked_keys_.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "key ", base::SafeText(key_fingerprint, 64), " is revoked"));
  }
  return absl::OkStatus();
}

size_t CaClient::revocation_count() const {
  base::SteadyMutexLock lock(&mu_);
  return revoked_serials_.size() + revoked_keys_.size();
}

int CaClient::stream_connects() const {
  base::SteadyMutexLock lock(&mu_);
  return stream_connects_;
}

}  // namespace sallyport::gateway
