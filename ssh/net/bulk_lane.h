// Handshake priority on an I/O thread (issue 12 "Load").
//
// One io_context runs every connection of its thread in one FIFO queue of
// ready handlers. Without a priority, a new connection's key exchange and
// authentication messages each wait behind the bulk work of every
// streaming session on that thread (reads of up to 256 KiB, their
// recording and forwarding, the sends): with ~100 such sessions a
// handshake of ~5 round trips took up to a minute on 2 busy cores
// (gateway_load_e2e_test).
//
// The bulk lane: bulk handlers (a TransportDriver marked bulk, i.e. an
// authenticated connection's reads and writes, and the gateway's recorder
// wakes) do not run when they become ready; they queue here, and a marker
// handler posted on the context lets ONE of them run, then posts itself
// again behind everything queued meanwhile (new readiness from the
// reactor, timers, pre-auth connections' messages, CA replies). So between
// two bulk steps every other ready handler runs: a handshake message waits
// for at most one bulk step, whatever the number of sessions, and bulk
// steps of all sessions take turns in FIFO order (no session starves).
// Without waiting bulk work nothing is posted (an idle thread sleeps).
//
// Cost: one post and one queue entry per bulk step (a read of up to
// max_read, a send, a recorder wake).
#ifndef SALLYPORT_SSH_NET_BULK_LANE_H_
#define SALLYPORT_SSH_NET_BULK_LANE_H_

#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace sallyport::ssh::net {

class BulkLane : public asio::execution_context::service {
 public:
  using key_type = BulkLane;

  explicit BulkLane(asio::execution_context& context)
      : asio::execution_context::service(context) {}

  // The lane of `ex`'s execution context.
  static BulkLane& Of(const asio::any_io_executor& ex);

  // A bulk step: `step` runs on `ex` when its turn comes (it returns false
  // when it found nothing to do, e.g. its connection is gone: the next
  // step runs on the same turn). Thread-safe (the recorder's writer thread
  // queues wakes).
  void Queue(asio::any_io_executor ex, std::function<bool()> step);

  // Steps waiting (tests).
  size_t waiting() const;

 private:
  void shutdown() override;
  void Turn();

  mutable std::mutex mu_;
  std::deque<std::function<bool()>> steps_;
  bool marker_posted_ = false;
  asio::any_io_executor ex_;
};

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_BULK_LANE_H_
