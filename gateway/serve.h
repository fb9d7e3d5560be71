// `sallyport-gateway serve`: the running gateway (issue 12). GatewayServer
// loads the gateway's identity (SSH host key + host certificate, mTLS key
// + certificate) from the config's files, connects to the CA (CaClient),
// and listens with one io_context per core (ssh/net ServerRuntime), each
// accepted connection served by the Proxy on its thread.
#ifndef SALLYPORT_GATEWAY_SERVE_H_
#define SALLYPORT_GATEWAY_SERVE_H_

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/ca_client.h"
#include "gateway/proxy.h"
#include "gateway/recorder.h"
#include "proto/config.pb.h"
#include "ssh/net/io_threads.h"

namespace sallyport::gateway {

// Reads a gateway.yaml (unknown keys refused with the line number) and
// fills in what is unset: listen 127.0.0.1:2222, threads 0, state_dir the
// file's directory, the `files` names, the limits' defaults, drain_timeout
// 30 s, revocation_grace 60 s. Relative `files` paths are made relative to
// state_dir.
absl::StatusOr<config::GatewayConfig> LoadServeConfig(const std::string& path);

class GatewayServer {
 public:
  struct Options {
    config::GatewayConfig config;
    // Null: a NullRecorder (the audit recorder lands with //audit).
    Recorder* recorder = nullptr;
    std::function<void(std::string_view)> log;  // null: stderr
    const base::Clock* clock = nullptr;
  };
  // kInvalidArgument / kNotFound for a bad config or unreadable identity
  // files; the CA may be down (the CaClient retries).
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(Options options);
  // Stops at once (ends every connection without draining).
  ~GatewayServer();

  asio::ip::tcp::endpoint local_endpoint() const;
  Proxy& proxy() { return *proxy_; }
  CaClient& ca() { return *ca_; }

  // SIGTERM: stop accepting; let sessions go on for up to `timeout`, then
  // end them with "gateway shutting down" and wait (briefly) for them.
  void Drain(absl::Duration timeout);

 private:
  GatewayServer() = default;
  void Log(std::string_view line) const;

  struct RevocationSink {
    absl::Mutex mu;
    Proxy* proxy ABSL_GUARDED_BY(mu) = nullptr;
  };

  Options options_;
  NullRecorder null_recorder_;
  std::shared_ptr<RevocationSink> revocation_sink_ =
      std::make_shared<RevocationSink>();
  std::unique_ptr<ssh::net::IoThreads> threads_;
  std::unique_ptr<CaClient> ca_;
  std::unique_ptr<Proxy> proxy_;
  std::unique_ptr<ssh::net::ServerRuntime> runtime_;
};

// The `serve` subcommand: runs until SIGTERM/SIGINT (drain) and returns the
// exit code. `listen` (non-empty) overrides the config's listen.
int RunServe(const std::string& config_path, const std::string& listen);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_SERVE_H_
