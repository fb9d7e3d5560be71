// Runs a session::Session (ServerSession/ClientSession) on a
// TransportDriver: the driver owns the transport (Session::ReleaseTransport)
// and hands each message to the session, pauses dispatch while the session
// waits for an asynchronous auth decision, resumes when the session wakes
// it, and runs the session's timers (Session::NextDeadline/OnTimer: open
// timeouts, keepalive liveness, EndAt, and the transport's login grace,
// rekey and kex timeout) from its timer.
//
// SessionDriver (session_driver.h) puts these together with the right
// lifetimes, the Listener's login grace and OnEnd on a lost connection;
// use this class directly only when you own the pieces yourself (the
// driver must outlive the session).
#ifndef SALLYPORT_SSH_NET_SESSION_HANDLER_H_
#define SALLYPORT_SSH_NET_SESSION_HANDLER_H_

#include <functional>

#include "ssh/net/driver.h"
#include "ssh/session/session.h"

namespace sallyport::ssh::net {

class SessionMessageHandler : public MessageHandler {
 public:
  // After each batch of input and each write completion the session's
  // queued channel output is flushed, then `on_progress` runs (resume
  // paused data sources there).
  SessionMessageHandler(session::Session& session, TransportDriver& driver,
                        std::function<void()> on_progress = nullptr)
      : session_(session),
        driver_(driver),
        on_progress_(std::move(on_progress)) {
    session_.set_wake([this] {
      driver_.ResumeDispatch();
      driver_.Wake();
    });
  }
  ~SessionMessageHandler() override { session_.set_wake(nullptr); }

  absl::Status OnHandshakeDone(transport::Transport&) override {
    session_.NoteHandshakeDone();
    return absl::OkStatus();
  }
  absl::Status OnMessage(transport::Transport&, wire::Bytes payload) override {
    return session_.HandleMessage(payload);
  }
  void OnProgress(transport::Transport&) override {
    // Channel output queued while the transport refused it (key exchange)
    // or the window was shut goes out first.
    session_.FlushOutput();
    if (on_progress_) on_progress_();
  }
  bool DispatchPaused() override { return session_.dispatch_paused(); }
  absl::Time NextDeadline(const transport::Transport&) override {
    return session_.NextDeadline();
  }
  void OnTimer(transport::Transport&) override { session_.OnTimer(); }

 private:
  session::Session& session_;
  TransportDriver& driver_;
  std::function<void()> on_progress_;
};

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_SESSION_HANDLER_H_
