#include "ssh/net/driver.h"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ssh/net/bulk_lane.h"

namespace sallyport::ssh::net {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Reads and writes above this size leave buffers worth releasing later.
constexpr size_t kLargeIo = 16 << 10;
// A bulk driver's step in the bulk lane (ssh/net/bulk_lane.h) reads or
// sends at most this much: a handshake on the same thread waits for at most
// one step, so its cost bounds the handshake's wait per message (on a
// starved machine a 256 KiB read with its recording and forwarding took
// several 100 ms of wall time).
constexpr size_t kBulkStepBytes = 64 << 10;
// A send costs less per byte than a read (no decryption, recording).
constexpr size_t kBulkSendBytes = 4 * kBulkStepBytes;

// The timer fires this long after the wake-up it waits for; a deadline
// that turns out earlier by less does not re-arm it.
constexpr std::chrono::milliseconds kTimerSlack(1);
// The longest single wait for a wall-clock deadline.
constexpr absl::Duration kLongestWait = absl::Hours(24);

// `d` from now on the steady clock.
std::chrono::steady_clock::time_point SteadyAfter(absl::Duration d) {
  return std::chrono::steady_clock::now() +
         absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration()));
}

void Signal(asio::steady_timer& t) {
  t.cancel();
  t.expires_at(asio::steady_timer::time_point::max());
}

}  // namespace

TransportDriver::TransportDriver(
    std::unique_ptr<ByteStream> stream,
    std::unique_ptr<transport::Transport> transport, DriverOptions options)
    : options_(options),
      stream_(std::move(stream)),
      transport_(std::move(transport)),
      alive_(std::make_shared<bool>(true)),
      wake_(stream_->executor()),
      read_gate_(stream_->executor()),
      timer_(stream_->executor()),
      read_lane_(stream_->executor()),
      write_lane_(stream_->executor()) {
  options_.low_watermark =
      std::min(options_.low_watermark, options_.high_watermark);
  options_.max_read = std::max(options_.max_read, kMinRead);
  wake_.expires_at(asio::steady_timer::time_point::max());
  read_gate_.expires_at(asio::steady_timer::time_point::max());
}

TransportDriver::TransportDriver(
    asio::ip::tcp::socket socket,
    std::unique_ptr<transport::Transport> transport, DriverOptions options)
    : TransportDriver(std::make_unique<TcpStream>(std::move(socket)),
                      std::move(transport), options) {}

TransportDriver::~TransportDriver() { *alive_ = false; }

size_t TransportDriver::OutputBacklog() const {
  return in_flight_ + transport_->BufferedOutputBytes();
}

size_t TransportDriver::BufferedBytes() const {
  return OutputBacklog() + transport_->BufferedInputBytes();
}

void TransportDriver::Wake() { NoteState(); }

void TransportDriver::PauseInput() { input_paused_ = true; }

void TransportDriver::ResumeInput() {
  input_paused_ = false;
  Signal(read_gate_);
}

void TransportDriver::ResumeDispatch() {
  if (finished_ || handler_ == nullptr) return;
  asio::post(stream_->executor(), [this, alive = alive_] {
    if (*alive && !finished_ && handler_ != nullptr) Process();
  });
}

void TransportDriver::SetDeadline(absl::Time when, std::string reason) {
  deadline_ = when;
  steady_deadline_ = kNever;
  deadline_reason_ = std::move(reason);
  NoteState();
}

void TransportDriver::SetDeadline(SteadyTime when, std::string reason) {
  deadline_ = absl::InfiniteFuture();
  steady_deadline_ = when;
  deadline_reason_ = std::move(reason);
  NoteState();
}

void TransportDriver::Abort() {
  if (finished_) return;
  if (stream_status_.ok() && !transport_->closed())
    stream_status_ = absl::AbortedError("connection aborted");
  Finish();
}

void TransportDriver::Finish() {
  if (finished_) return;
  finished_ = true;
  stream_->Close();
  Signal(wake_);
  Signal(read_gate_);
  Signal(read_lane_.timer);
  Signal(write_lane_.timer);
  timer_.cancel();
}

asio::awaitable<void> TransportDriver::BulkTurn(LaneSlot& slot) {
  slot.timer.expires_at(asio::steady_timer::time_point::max());
  slot.waiting = true;
  BulkLane::Of(executor()).Queue(executor(), [this, alive = alive_, &slot] {
    // The driver (and with it `slot`) may be gone, or finished meanwhile.
    if (!*alive || !slot.waiting || finished_) return false;
    slot.waiting = false;
    Signal(slot.timer);
    return true;
  });
  co_await slot.timer.async_wait(kUseTuple);
  slot.waiting = false;
}

// Called after anything that may have changed the output, the transport's
// state or a deadline: wakes the writer, updates the read gate, notes the
// peak and re-arms the timer if something is due earlier.
void TransportDriver::NoteState() {
  peak_buffered_ = std::max(peak_buffered_, BufferedBytes());
  if (transport_->closed() && !close_noticed_) {
    close_noticed_ = true;
    hard_close_at_ = SteadyAfter(options_.close_flush_timeout);
    Signal(read_gate_);
  }
  UpdateBacklog();
  Signal(wake_);
  // Wall-clock deadlines read on the steady clock move by the nanoseconds
  // between the two clocks' readings: not a new deadline.
  if (NextWake() < armed_ - kTimerSlack) timer_.cancel();
}

void TransportDriver::UpdateBacklog() {
  const size_t backlog = OutputBacklog();
  if (backlog >= options_.high_watermark) {
    blocked_by_backlog_ = true;
  } else if (blocked_by_backlog_ && backlog < options_.low_watermark) {
    blocked_by_backlog_ = false;
    Signal(read_gate_);
  }
}

void TransportDriver::ScheduleShrink() {
  shrink_at_ = SteadyAfter(options_.shrink_delay);
}

TransportDriver::SteadyTime TransportDriver::NextWake() const {
  SteadyTime t = std::min({steady_deadline_, hard_close_at_, shrink_at_});
  absl::Time wall = deadline_;
  if (!transport_->closed()) {
    wall =
        std::min(wall, handler_ != nullptr ? handler_->NextDeadline(*transport_)
                                           : transport_->NextDeadline());
  }
  if (wall == absl::InfiniteFuture()) return t;
  // A far deadline (a certificate valid for years) is looked at again
  // after kLongestWait.
  return std::min(t, SteadyAfter(std::min(wall - absl::Now(), kLongestWait)));
}

void TransportDriver::Process() {
  if (processing_ || handler_ == nullptr) return;  // not re-entrant
  processing_ = true;
  MessageHandler& handler = *handler_;
  transport::Transport& t = *transport_;
  while (!t.closed()) {
    UpdateBacklog();
    if (blocked_by_backlog_ || handler.DispatchPaused()) break;
    auto msg = t.Next();
    if (!handshake_reported_ && t.handshake_done()) {
      handshake_reported_ = true;
      absl::Status s = handler.OnHandshakeDone(t);
      if (!s.ok()) {
        t.Disconnect(transport::DisconnectReason::kByApplication,
                     std::string(s.message().substr(0, 200)));
        break;
      }
    }
    if (!msg.has_value()) break;
    absl::Status s = handler.OnMessage(t, *msg);
    if (!s.ok()) {
      t.Disconnect(transport::DisconnectReason::kProtocolError,
                   std::string(s.message().substr(0, 200)));
      break;
    }
  }
  if (!t.closed()) handler.OnProgress(t);
  processing_ = false;
  NoteState();
  if (ReadAllowed()) Signal(read_gate_);
}

bool TransportDriver::ReadAllowed() {
  UpdateBacklog();
  if (finished_ || transport_->closed()) return false;
  if (input_paused_ || blocked_by_backlog_) return false;
  if (handler_ != nullptr && handler_->DispatchPaused() &&
      transport_->BufferedInputBytes() >= options_.paused_input_limit)
    return false;
  return true;
}

size_t TransportDriver::ReadSize(size_t available) {
  size_t n = std::clamp(
      available, kMinRead,
      bulk_ ? std::min(options_.max_read, kBulkStepBytes) : options_.max_read);
  // Replies to one read must not overshoot the high watermark by much.
  const size_t backlog = OutputBacklog();
  const size_t room =
      options_.high_watermark > backlog ? options_.high_watermark - backlog : 0;
  n = std::min(n, std::max(room, kMinRead));
  if (handler_ != nullptr && handler_->DispatchPaused()) {
    const size_t buffered = transport_->BufferedInputBytes();
    n = std::min(n, options_.paused_input_limit > buffered
                        ? options_.paused_input_limit - buffered
                        : size_t{1});
  }
  return n;
}

asio::awaitable<void> TransportDriver::ReadLoop() {
  transport::Transport& t = *transport_;
  // Whether the last read emptied the stream (it got less than it asked
  // for): then the loop waits for input without asking the stream first.
  // One Available() (FIONREAD) per read, just before it, sizes the read:
  // no buffer is held while waiting for input.
  bool drained = true;
  while (!finished_ && !t.closed()) {
    if (!ReadAllowed()) {
      co_await read_gate_.async_wait(kUseTuple);
      continue;
    }
    if (drained) {
      asio::error_code ec = co_await stream_->WaitReadable();
      if (finished_ || t.closed()) break;
      if (ec) {
        stream_status_ =
            absl::UnavailableError(absl::StrCat("read failed: ", ec.message()));
        break;
      }
      if (!ReadAllowed()) continue;  // paused meanwhile: leave it unread
    }
    if (bulk_) {
      // Ready to read: wait for the turn first.
      co_await BulkTurn(read_lane_);
      if (finished_ || t.closed()) break;
      if (!ReadAllowed()) continue;
    }
    const size_t available = stream_->Available();
    if (available == 0 && !drained) {
      drained = true;  // the last read took exactly what there was
      continue;
    }
    const size_t want = ReadSize(available);
    auto buf = t.PrepareInput(want);
    auto [ec, n] = co_await stream_->ReadSome(buf);
    if (finished_) break;  // the transport may be gone with the driver
    drained = n < want;
    t.CommitInput(n);
    if (n >= kLargeIo) ScheduleShrink();
    if (n > 0) Process();
    if (ec) {
      if (!t.closed()) {
        stream_status_ = absl::UnavailableError(
            ec == asio::error::eof
                ? "connection closed by peer"
                : absl::StrCat("read failed: ", ec.message()));
      }
      break;
    }
  }
  // A lost connection ends the writer too; a closed transport lets the
  // writer flush its DISCONNECT first.
  if (!t.closed()) Finish();
  NoteState();
}

asio::awaitable<void> TransportDriver::WriteLoop() {
  transport::Transport& t = *transport_;
  while (!finished_) {
    if (t.PendingOutput().empty()) {
      if (t.closed()) break;
      co_await wake_.async_wait(kUseTuple);
      continue;
    }
    if (bulk_) {
      co_await BulkTurn(write_lane_);
      if (finished_) break;
      if (t.PendingOutput().empty()) continue;
    }
    t.TakeOutput(&write_buffer_);
    // One send per loop for the whole batch: a generic async_write would
    // split it into 64 KiB sends, each a trip through the event loop.
    size_t written = 0;
    asio::error_code ec;
    while (written < write_buffer_.size() && !ec && !finished_) {
      // Bulk: a send of at most kBulkSendBytes per turn in the lane.
      if (bulk_ && written > 0) {
        co_await BulkTurn(write_lane_);
        if (finished_) break;
      }
      in_flight_ = write_buffer_.size() - written;
      size_t n = 0;
      std::tie(ec, n) = co_await stream_->WriteSome(
          absl::MakeConstSpan(write_buffer_)
              .subspan(written, bulk_ ? kBulkSendBytes : in_flight_));
      written += n;
    }
    in_flight_ = 0;
    if (finished_) break;
    if (ec) {
      if (!t.closed())
        stream_status_ = absl::UnavailableError(
            absl::StrCat("write failed: ", ec.message()));
      break;
    }
    if (write_buffer_.size() >= kLargeIo) ScheduleShrink();
    write_buffer_.clear();
    Process();
  }
  Finish();
}

asio::awaitable<void> TransportDriver::TimerLoop() {
  transport::Transport& t = *transport_;
  while (!finished_) {
    armed_ = NextWake();
    // Later by kTimerSlack, so the timer never fires just before a
    // wall-clock deadline.
    timer_.expires_at(armed_ == kNever ? kNever : armed_ + kTimerSlack);
    co_await timer_.async_wait(kUseTuple);
    armed_ = kNever;
    if (finished_) break;
    ++timer_wakeups_;
    const SteadyTime now = std::chrono::steady_clock::now();
    if (now >= hard_close_at_) {
      Finish();  // the last write is stuck: give up on it
      break;
    }
    if (now >= steady_deadline_ || absl::Now() >= deadline_) {
      deadline_ = absl::InfiniteFuture();
      steady_deadline_ = kNever;
      t.Disconnect(transport::DisconnectReason::kByApplication,
                   deadline_reason_,
                   absl::DeadlineExceededError(deadline_reason_));
    }
    if (now >= shrink_at_) {
      shrink_at_ = kNever;
      t.ShrinkBuffers();
      if (in_flight_ == 0) wire::ByteBuffer().swap(write_buffer_);
    }
    if (handler_ != nullptr) {
      handler_->OnTimer(t);
    } else {
      t.OnTimer();
    }
    NoteState();
  }
}

asio::awaitable<absl::Status> TransportDriver::Run(MessageHandler& handler) {
  using namespace asio::experimental::awaitable_operators;
  handler_ = &handler;
  NoteState();  // the version line and KEXINIT are already queued
  co_await (ReadLoop() && WriteLoop() && TimerLoop());
  handler_ = nullptr;
  if (transport_->closed()) co_return transport_->close_status();
  if (!stream_status_.ok()) co_return stream_status_;
  co_return absl::UnavailableError("connection closed");
}

absl::StatusOr<asio::ip::tcp::endpoint> ParseEndpoint(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected HOST:PORT, got ", std::string(text)));
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (!absl::SimpleAtoi(std::string(text.substr(colon + 1)), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in ", std::string(text)));
  }
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad IP address in ", std::string(text),
                     " (expected IP:PORT or [IPv6]:PORT)"));
  }
  return asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(port));
}

}  // namespace sallyport::ssh::net
