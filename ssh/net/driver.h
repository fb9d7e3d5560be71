// Drives a transport::Transport over a ByteStream (a TCP socket, an
// in-memory pipe, an SSH channel) with standalone Asio and C++20
// coroutines: a reader, a writer and a timer coroutine on the stream's
// executor. Only ssh/net includes Asio.
//
// Backpressure: the driver stops reading (and dispatching) while the output
// backlog (the transport's buffered output + bytes handed to the stream and
// not yet written) is at or above DriverOptions::high_watermark, whatever
// produced it (data, PONGs, auth failures a peer provokes and never reads),
// and resumes below low_watermark. Reads are sized so that replies to one
// read cannot overshoot high_watermark by more than kMinRead bytes of input's
// worth. The application can also pause input (PauseInput) and message
// dispatch (MessageHandler::DispatchPaused).
//
// Idle connections hold no input buffer: the driver waits for the stream to
// become readable before it sizes a buffer, and releases large buffers
// after a burst (one timer wake-up, DriverOptions::shrink_delay, later).
// The timer otherwise sleeps until the next deadline of the transport and
// the handler (MessageHandler::NextDeadline).
#ifndef SALLYPORT_SSH_NET_DRIVER_H_
#define SALLYPORT_SSH_NET_DRIVER_H_

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ssh/net/byte_stream.h"
#include "ssh/transport/transport.h"
#include "ssh/wire/byte_buffer.h"

namespace sallyport::ssh::net {

// What runs on top of the transport (service/auth/connection layers, or an
// example's minimal logic). Every callback runs on the driver's executor.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // Once, when the first key exchange has completed in both directions.
  virtual absl::Status OnHandshakeDone(transport::Transport&) {
    return absl::OkStatus();
  }
  // Each message for the layers above. An error disconnects.
  virtual absl::Status OnMessage(transport::Transport& t,
                                 wire::Bytes payload) = 0;
  // After each batch of input and each write completion: a chance to
  // produce more output (e.g. resume a paused data source).
  virtual void OnProgress(transport::Transport&) {}
  // Checked before each message is taken from the transport: while true,
  // no message (not even a transport-level one) is processed, and the
  // driver stops reading once DriverOptions::paused_input_limit bytes are
  // buffered. For asynchronous decisions (auth); call
  // TransportDriver::ResumeDispatch() once it returns false again.
  virtual bool DispatchPaused() { return false; }
  // Time: when OnTimer must next run (the transport's deadlines and any of
  // the layers above; InfiniteFuture when nothing waits), taken as a
  // wall-clock time at each call (the driver waits NextDeadline() -
  // absl::Now() of the steady clock, then asks again), and the timer
  // callback itself, which must call the transport's OnTimer (directly or
  // through the layer above, e.g. Session::OnTimer). The driver asks again
  // after every callback and after Wake(), so a new earlier deadline (e.g.
  // Session::EndAt) re-arms the timer.
  virtual absl::Time NextDeadline(const transport::Transport& t) {
    return t.NextDeadline();
  }
  virtual void OnTimer(transport::Transport& t) { t.OnTimer(); }
};

struct DriverOptions {
  // Stop reading at or above this output backlog; resume below the low
  // watermark. Keep high_watermark above what data producers allow
  // themselves (TransportDriver::OutputRoom: below low_watermark) plus one
  // producer read, so two of our drivers streaming at each other never both
  // stop reading.
  size_t high_watermark = 8 << 20;
  size_t low_watermark = 4 << 20;
  // Largest single read from the stream.
  size_t max_read = 256 << 10;
  // While dispatch is paused: unprocessed input the driver may buffer.
  size_t paused_input_limit = 32 << 10;
  // Once the transport has closed (DISCONNECT queued, login grace or a
  // deadline expired), the stream is closed after this long even if the
  // last write is stuck because the peer does not read.
  absl::Duration close_flush_timeout = absl::Seconds(2);
  // Buffers above a few KiB are released this long after the last large
  // read or write.
  absl::Duration shrink_delay = absl::Seconds(1);
};

class TransportDriver {
 public:
  // Reads are never smaller than this (unless dispatch is paused).
  static constexpr size_t kMinRead = 4096;

  TransportDriver(std::unique_ptr<ByteStream> stream,
                  std::unique_ptr<transport::Transport> transport,
                  DriverOptions options = {});
  // Over a connected TCP socket (TCP_NODELAY is set).
  TransportDriver(asio::ip::tcp::socket socket,
                  std::unique_ptr<transport::Transport> transport,
                  DriverOptions options = {});
  ~TransportDriver();
  TransportDriver(const TransportDriver&) = delete;
  TransportDriver& operator=(const TransportDriver&) = delete;

  // Runs until the transport closes and its last output (a DISCONNECT) is
  // flushed (or close_flush_timeout passed), or the stream fails. Returns
  // why the connection ended (the transport's close status; kUnavailable
  // for a lost connection). Call once.
  asio::awaitable<absl::Status> Run(MessageHandler& handler);

  transport::Transport& transport() { return *transport_; }
  const transport::Transport& transport() const { return *transport_; }
  ByteStream& stream() { return *stream_; }
  asio::any_io_executor executor() { return stream_->executor(); }

  // Call after Send() (or Disconnect()) from outside the handler callbacks,
  // on the executor, so the writer picks the output up.
  void Wake();

  // Bytes handed to the stream and not yet written + the transport's
  // buffered output.
  size_t OutputBacklog() const;
  // Whether data producers may add output: backlog below low_watermark.
  bool OutputRoom() const { return OutputBacklog() < options_.low_watermark; }
  // How much output producers may still add: low_watermark minus the
  // backlog (0 when !OutputRoom()). A producer that hands over at most this
  // much at a time (ChannelStream's writes into an outer connection) keeps
  // the backlog below low_watermark plus one packet's framing.
  size_t OutputRoomBytes() const {
    const size_t backlog = OutputBacklog();
    return backlog < options_.low_watermark ? options_.low_watermark - backlog
                                            : 0;
  }
  // Output backlog + received bytes not yet processed: what this connection
  // holds in user space besides the layers above.
  size_t BufferedBytes() const;
  // The largest BufferedBytes() seen (for tests and metrics).
  size_t peak_buffered_bytes() const { return peak_buffered_; }
  // Bytes allocated for buffers (transport + the driver's write buffer).
  size_t BufferCapacity() const {
    return transport_->BufferCapacity() + write_buffer_.capacity();
  }
  // How often the timer coroutine woke up (for tests: idle connections
  // must not wake periodically).
  uint64_t timer_wakeups() const { return timer_wakeups_; }
  // Whether reading is stopped because of the output backlog.
  bool blocked_by_backlog() const { return blocked_by_backlog_; }

  // Application-controlled input pause (e.g. one side of a bridge stops
  // the other): no read is started while paused. Buffered input is still
  // dispatched. On the executor.
  void PauseInput();
  void ResumeInput();
  bool input_paused() const { return input_paused_; }

  // Processes buffered input again after MessageHandler::DispatchPaused()
  // turned false, and resumes reading. On the executor; may be called from
  // inside a handler callback (the work is posted).
  void ResumeDispatch();

  // At `when` the transport is disconnected (kByApplication, `reason`;
  // Run returns kDeadlineExceeded) and the stream closed after at most
  // close_flush_timeout. A wall-clock time (a certificate's expiry) or a
  // time of the steady clock (a duration from now that a wall-clock step
  // must not stretch or cut: the login grace); either replaces the
  // deadline set before. InfiniteFuture (or time_point::max()) cancels. On
  // the executor.
  void SetDeadline(absl::Time when, std::string reason);
  void SetDeadline(std::chrono::steady_clock::time_point when,
                   std::string reason);

  // Closes the stream now without flushing (Run returns soon).
  void Abort();

  // Bulk (ssh/net/bulk_lane.h): each read and each send waits for its turn
  // in the thread's bulk lane, so the thread's other handlers (new
  // connections' handshakes) never wait behind more than one bulk step.
  // Off by default (a connection being set up has priority); the gateway
  // turns it on once the user is authenticated. On the executor.
  void SetBulk(bool bulk) { bulk_ = bulk; }
  bool bulk() const { return bulk_; }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  static constexpr SteadyTime kNever = SteadyTime::max();

  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  asio::awaitable<void> TimerLoop();
  void Process();
  bool ReadAllowed();
  size_t ReadSize(size_t available);
  void UpdateBacklog();
  void NoteState();
  void Finish();
  void ScheduleShrink();
  // When the timer must next run, on the steady clock (kNever: nothing
  // waits).
  SteadyTime NextWake() const;
  // A loop's place in the bulk lane.
  struct LaneSlot {
    explicit LaneSlot(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    bool waiting = false;
  };
  asio::awaitable<void> BulkTurn(LaneSlot& slot);

  DriverOptions options_;
  std::unique_ptr<ByteStream> stream_;
  std::unique_ptr<transport::Transport> transport_;
  MessageHandler* handler_ = nullptr;
  std::shared_ptr<bool> alive_;
  asio::steady_timer wake_;       // the writer waits for output
  asio::steady_timer read_gate_;  // the reader waits to be allowed to read
  asio::steady_timer timer_;      // deadlines
  LaneSlot read_lane_;            // the reader's and the writer's turns
  LaneSlot write_lane_;           // in the bulk lane
  // On the steady clock but deadline_ (SetDeadline, one of the two).
  SteadyTime armed_ = kNever;  // the wake-up the timer waits for
  absl::Time deadline_ = absl::InfiniteFuture();
  SteadyTime steady_deadline_ = kNever;
  std::string deadline_reason_;
  SteadyTime hard_close_at_ = kNever;
  SteadyTime shrink_at_ = kNever;
  wire::ByteBuffer write_buffer_;
  size_t in_flight_ = 0;
  size_t peak_buffered_ = 0;
  uint64_t timer_wakeups_ = 0;
  bool handshake_reported_ = false;
  bool bulk_ = false;
  bool processing_ = false;
  bool input_paused_ = false;
  bool blocked_by_backlog_ = false;
  bool close_noticed_ = false;
  bool finished_ = false;
  absl::Status stream_status_;
};

// Parses "HOST:PORT" ("127.0.0.1:2222", "[::1]:2222").
absl::StatusOr<asio::ip::tcp::endpoint> ParseEndpoint(std::string_view text);

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_DRIVER_H_
