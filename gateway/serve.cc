#include "gateway/serve.h"

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "base/yaml_proto.h"
#include "gateway/config.h"
#include "ssh/cert/certificate_file.h"
#include "ssh/crypto/keys.h"
#include "ssh/net/driver.h"
#include "ssh/net/spawn.h"

namespace sallyport::gateway {
namespace {

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void SetDefault(google::protobuf::Duration* d, bool has, int64_t seconds) {
  if (!has) d->set_seconds(seconds);
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(dir, "/", path);
}

}  // namespace

absl::StatusOr<config::GatewayConfig> LoadServeConfig(const std::string& path) {
  config::GatewayConfig c;
  if (absl::Status st = base::YamlFileToProto(path, &c); !st.ok()) return st;
  // Every value checked, with errors naming the key (gateway/config.h).
  if (absl::StatusOr<GatewaySettings> checked = SettingsFromConfig(
          c, std::filesystem::absolute(path).parent_path().string());
      !checked.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", checked.status().message()));
  }
  if (c.ca().empty())
    return absl::InvalidArgumentError(path + ": ca is required");
  if (c.ca_fingerprint().empty())
    return absl::InvalidArgumentError(path + ": ca_fingerprint is required");
  if (c.listen().empty()) c.set_listen("127.0.0.1:2222");
  if (c.state_dir().empty()) {
    c.set_state_dir(std::filesystem::absolute(path).parent_path().string());
  }
  config::GatewayFiles* f = c.mutable_files();
  if (f->host_key().empty()) f->set_host_key("ssh_host_ed25519_key");
  if (f->host_certificate().empty())
    f->set_host_certificate("ssh_host_ed25519_key-cert.pub");
  if (f->tls_key().empty()) f->set_tls_key("gateway_tls.key");
  if (f->tls_certificate().empty()) f->set_tls_certificate("gateway_tls.crt");
  if (f->ca_certificate().empty()) f->set_ca_certificate("ca.pem");
  f->set_host_key(Resolve(c.state_dir(), f->host_key()));
  f->set_host_certificate(Resolve(c.state_dir(), f->host_certificate()));
  f->set_tls_key(Resolve(c.state_dir(), f->tls_key()));
  f->set_tls_certificate(Resolve(c.state_dir(), f->tls_certificate()));
  f->set_ca_certificate(Resolve(c.state_dir(), f->ca_certificate()));
  config::GatewayLimits* l = c.mutable_limits();
  if (l->max_startups().empty()) l->set_max_startups("10:30:100");
  SetDefault(l->mutable_login_grace(), l->has_login_grace(), 30);
  if (l->max_auth_tries() == 0) l->set_max_auth_tries(6);
  if (l->max_channels_per_connection() == 0)
    l->set_max_channels_per_connection(64);
  if (l->max_sessions_per_user() == 0) l->set_max_sessions_per_user(50);
  SetDefault(c.mutable_drain_timeout(), c.has_drain_timeout(), 30);
  SetDefault(c.mutable_revocation_grace(), c.has_revocation_grace(), 60);
  return c;
}

void GatewayServer::Log(std::string_view line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "sallyport-gateway: %.*s\n",
                 static_cast<int>(line.size()), line.data());
  }
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    Options options) {
  std::unique_ptr<GatewayServer> s(new GatewayServer());
  s->options_ = std::move(options);
  const config::GatewayConfig& c = s->options_.config;
  auto log = [p = s.get()](std::string_view line) { p->Log(line); };

  absl::StatusOr<ssh::crypto::PrivateKey> host_key =
      ssh::crypto::PrivateKey::LoadFile(c.files().host_key());
  if (!host_key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host key ", c.files().host_key(), ": ", host_key.status().message()));
  }
  ssh::transport::ServerHostKey server_key{*host_key, {}};
  if (!c.files().host_certificate().empty() &&
      std::filesystem::exists(c.files().host_certificate())) {
    absl::StatusOr<ssh::cert::Certificate> cert = ssh::cert::LoadCertificate(
        c.files().host_certificate(), host_key->public_key());
    if (!cert.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("host certificate ", c.files().host_certificate(), ": ",
                       cert.status().message()));
    }
    server_key.certificate = cert->blob;
  }
  absl::StatusOr<ssh::net::MaxStartups> max_startups =
      ssh::net::MaxStartups::Parse(c.limits().max_startups());
  if (!max_startups.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.max_startups: ", max_startups.status().message()));
  }
  absl::StatusOr<asio::ip::tcp::endpoint> endpoint =
      ssh::net::ParseEndpoint(c.listen());
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: ", endpoint.status().message()));
  }

  CaChannelOptions channel_options;
  channel_options.address = c.ca();
  channel_options.fingerprint = c.ca_fingerprint();
  channel_options.tls_key_path = c.files().tls_key();
  channel_options.tls_certificate_path = c.files().tls_certificate();
  channel_options.ca_certificate_path = c.files().ca_certificate();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeCaChannel(channel_options);
  if (!channel.ok()) return channel.status();
  CaClient::Options ca_options;
  ca_options.channel = *channel;
  ca_options.revocation_grace = FromProto(c.revocation_grace());
  ca_options.clock = s->options_.clock;
  ca_options.log = log;
  // Revocations end the connections that use the certificate; the proxy
  // exists only after the CA client, hence the indirection.
  ca_options.on_revocation = [sink = s->revocation_sink_](
                                 uint64_t serial, const std::string& fp) {
    absl::MutexLock lock(&sink->mu);
    if (sink->proxy != nullptr) sink->proxy->EndRevoked(serial, fp);
  };
  absl::StatusOr<std::unique_ptr<CaClient>> ca =
      CaClient::Create(std::move(ca_options));
  if (!ca.ok()) return ca.status();
  s->ca_ = std::move(*ca);

  ProxyOptions proxy_options;
  proxy_options.ca = s->ca_.get();
  proxy_options.recorder = s->options_.recorder != nullptr
                               ? s->options_.recorder
                               : &s->null_recorder_;
  proxy_options.host_keys = {server_key};
  proxy_options.limits.max_auth_tries = c.limits().max_auth_tries();
  proxy_options.limits.max_channels_per_connection =
      static_cast<size_t>(c.limits().max_channels_per_connection());
  proxy_options.limits.max_sessions_per_user =
      c.limits().max_sessions_per_user();
  proxy_options.limits.idle_timeout = FromProto(c.limits().idle_timeout());
  proxy_options.clock = s->options_.clock;
  proxy_options.log = log;
  s->proxy_ = std::make_unique<Proxy>(std::move(proxy_options));
  {
    absl::MutexLock lock(&s->revocation_sink_->mu);
    s->revocation_sink_->proxy = s->proxy_.get();
  }

  s->threads_ = std::make_unique<ssh::net::IoThreads>(c.threads());
  s->threads_->Start();
  ssh::net::ListenerOptions listener;
  listener.max_startups = *max_startups;
  listener.login_grace_time = FromProto(c.limits().login_grace());
  listener.reuse_port = true;
  listener.log = log;
  Proxy* proxy = s->proxy_.get();
  absl::StatusOr<std::unique_ptr<ssh::net::ServerRuntime>> runtime =
      ssh::net::ServerRuntime::Listen(
          *s->threads_, *endpoint, listener,
          [proxy](asio::ip::tcp::socket socket,
                  std::shared_ptr<ssh::net::PreAuthSlot> slot) {
            return proxy->Serve(std::move(socket), std::move(slot));
          });
  if (!runtime.ok()) return runtime.status();
  s->runtime_ = std::move(*runtime);
  const auto ep = s->runtime_->local_endpoint();
  s->Log(absl::StrCat("listening on ", ep.address().to_string(), ":", ep.port(),
                      " threads=", s->threads_->size()));
  return s;
}

GatewayServer::~GatewayServer() {
  if (runtime_ != nullptr) runtime_->Close();
  runtime_.reset();
  if (threads_ != nullptr) threads_->Stop();
  {
    absl::MutexLock lock(&revocation_sink_->mu);
    revocation_sink_->proxy = nullptr;
  }
  // In-flight CA calls post to the (stopped, still existing) io_contexts.
  ca_.reset();
  // Destroys the connections' coroutines, which use the proxy.
  threads_.reset();
  proxy_.reset();
}

asio::ip::tcp::endpoint GatewayServer::local_endpoint() const {
  return runtime_->local_endpoint();
}

void GatewayServer::Drain(absl::Duration timeout) {
  if (runtime_ != nullptr) runtime_->Close();
  const absl::Time deadline = absl::Now() + timeout;
  Log(absl::StrCat("draining: ", proxy_->active_connections(),
                   " connections, up to ", absl::FormatDuration(timeout)));
  proxy_->EndAll(deadline, "gateway shutting down");
  // The deadline ends what is left; give the last writes a moment.
  while (proxy_->active_connections() > 0 &&
         absl::Now() < deadline + absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
}

int RunServe(const std::string& config_path, const std::string& listen) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<config::GatewayConfig> config = LoadServeConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "sallyport-gateway: %s\n",
                 std::string(config.status().message()).c_str());
    return 1;
  }
  if (!listen.empty()) config->set_listen(listen);
  GatewayServer::Options options;
  options.config = *config;
  absl::StatusOr<std::unique_ptr<GatewayServer>> server =
      GatewayServer::Start(std::move(options));
  if (!server.ok()) {
    std::fprintf(stderr, "sallyport-gateway: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // Certificates are re-read by the CA channel's file watcher; other
      // changes need a restart.
      std::fprintf(stderr,
                   "sallyport-gateway: SIGHUP: certificates are reloaded "
                   "automatically; other config changes need a restart\n");
      continue;
    }
    break;
  }
  (*server)->Drain(FromProto(config->drain_timeout()));
  server->reset();
  return 0;
}

}  // namespace sallyport::gateway
