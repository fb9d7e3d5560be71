// A loopback TCP echo server for forwarding tests (ssh -L/-R/-W through
// the gateway), and a client that sends text and reads the answer.
#ifndef SALLYPORT_TESTS_HARNESS_ECHO_SERVER_H_
#define SALLYPORT_TESTS_HARNESS_ECHO_SERVER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace sallyport::testing {

// Listens on 127.0.0.1 on a free port; each connection (one at a time)
// gets back what it sends, until it shuts down its side. port() is 0 when
// it could not listen.
class EchoServer {
 public:
  EchoServer();
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  uint16_t port() const { return port_; }
  // Connections accepted so far.
  int accepted() const { return accepted_; }

 private:
  void Loop();

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Connects to 127.0.0.1:port, sends `text`, shuts down writing and reads
// until EOF (at most 20 s). Empty when the connection fails.
std::string RoundTrip(uint16_t port, const std::string& text);

// Repeats RoundTrip until it echoes `text` or 30 s pass (for forwards set
// up asynchronously).
bool EchoesThrough(uint16_t port, const std::string& text);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_ECHO_SERVER_H_
