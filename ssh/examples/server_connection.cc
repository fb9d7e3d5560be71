#include "ssh/examples/server_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "ssh/connection/messages.h"
#include "ssh/examples/common.h"
#include "ssh/examples/tcp_forward.h"
#include "ssh/transport/messages.h"

namespace sallyport::ssh::examples {
namespace {

std::string Describe(const auth::AuthAttempt& a) {
  std::string s = absl::StrCat("user ", base::SafeText(a.user), " key ",
                               a.key.FingerprintSha256());
  if (a.certificate.has_value()) {
    absl::StrAppend(&s, " certificate id \"",
                    base::SafeText(a.certificate->key_id), "\" serial ",
                    a.certificate->serial, " CA ",
                    a.certificate->CaFingerprint());
  }
  return s;
}

}  // namespace

asio::awaitable<void> ServerConnection::Serve(
    asio::ip::tcp::socket socket, const ServerConfig& config,
    ChildReaper& reaper, std::shared_ptr<net::PreAuthSlot> slot) {
  ServerConnection self(config, reaper, socket.get_executor());
  asio::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  auto local = socket.local_endpoint(ec);
  self.peer_ = absl::StrCat(remote.address().to_string(), ":", remote.port());
  self.ssh_connection_ =
      absl::StrCat(remote.address().to_string(), " ", remote.port(), " ",
                   local.address().to_string(), " ", local.port());

  session::ServerSessionOptions options;
  options.transport = config.transport;
  options.auth.policy = &self;
  options.auth.trusted_user_cas = config.user_cas;
  options.auth.peer_address = remote.address().to_string();
  options.auth.log = [peer = self.peer_](const auth::AuthAttempt* attempt,
                                         bool accepted,
                                         std::string_view reason) {
    Log(absl::StrCat("auth from ", peer, ": ",
                     accepted ? "accepted " : "refused ",
                     attempt != nullptr ? Describe(*attempt) : "request", ": ",
                     base::SafeText(reason)));
  };
  auto session = session::ServerSession::Create(std::move(options), self);
  if (!session.ok()) {
    Log(absl::StrCat("cannot create session: ", session.status().ToString()));
    co_return;
  }
  self.session_ = session->get();
  auto driver =
      net::SessionDriver::Create(std::move(socket), std::move(*session));
  if (!driver.ok()) {
    Log(absl::StrCat("cannot drive session: ", driver.status().ToString()));
    co_return;
  }
  self.driver_ = std::move(*driver);
  // Ends the connection at the login grace deadline unless the user
  // authenticates first.
  self.driver_->AttachPreAuthSlot(std::move(slot));
  self.driver_->set_on_progress([&self] { self.PumpAll(); });
  absl::Status end = co_await self.driver_->Run();
  self.ShutdownChannels();
  Log(absl::StrCat("connection from ", self.peer_, " ended: ", end.ToString(),
                   " (kex count ", self.session_->transport().kex_count(),
                   ")"));
}

ServerConnection::ServerConnection(const ServerConfig& config,
                                   ChildReaper& reaper,
                                   asio::any_io_executor executor)
    : config_(config), reaper_(reaper), executor_(std::move(executor)) {}

ServerConnection::~ServerConnection() { ShutdownChannels(); }

void ServerConnection::ShutdownChannels() {
  auto channels = std::move(channels_);
  channels_.clear();
  for (auto& [id, channel] : channels) channel->Shutdown();
}

void ServerConnection::OnHandshakeDone(session::Session& s) {
  Log(absl::StrCat("kex done: ", DescribeAlgorithms(s.transport())));
}

void ServerConnection::OnAuthenticated(session::Session&) {
  auto login = std::make_shared<LoginInfo>();
  login->user = config_.login_user;
  login->home = config_.home;
  login->shell = config_.shell;
  login->ssh_connection = ssh_connection_;
  login->permissions = session_->identity()->permissions;
  login_ = std::move(login);
}

void ServerConnection::PumpAll() {
  // Output drained or input processed: paused readers may go on.
  for (auto& [id, channel] : channels_) channel->Pump();
}

bool ServerConnection::OutputRoom() const {
  return driver_->driver().OutputBacklog() < net::kMaxOutputBacklog;
}

Channel* ServerConnection::Find(uint32_t id) {
  auto it = channels_.find(id);
  return it == channels_.end() ? nullptr : it->second.get();
}

void ServerConnection::Forget(uint32_t id) { channels_.erase(id); }

void ServerConnection::OnChannelOpen(session::Channel channel,
                                     std::string_view type, wire::Bytes extra) {
  const uint32_t id = channel.id();
  if (login_ == nullptr) {  // the transport allows no channel before auth
    (void)channel.Reject(connection::OpenFailure::kAdministrativelyProhibited,
                         "not authenticated");
    return;
  }
  if (type == "session") {
    auto session =
        std::make_shared<Session>(executor_, this, id, reaper_, login_);
    channels_[id] = std::move(session);
    (void)channel.Accept();
    return;
  }
  if (type == "direct-tcpip") {
    OpenDirectTcpip(channel, extra);
    return;
  }
  Log(absl::StrCat("channel type ", base::SafeText(type), " refused"));
  (void)channel.Reject(connection::OpenFailure::kUnknownChannelType,
                       "unknown channel type");
}

void ServerConnection::OpenDirectTcpip(session::Channel channel,
                                       wire::Bytes extra) {
  const uint32_t id = channel.id();
  const auto refuse = [&](std::string_view why) {
    Log(absl::StrCat("direct-tcpip refused: ", std::string(why)));
    (void)channel.Reject(connection::OpenFailure::kAdministrativelyProhibited,
                         why);
  };
  if (login_->permissions.has_value() &&
      !login_->permissions->permit_port_forwarding) {
    refuse("the certificate does not permit port forwarding");
    return;
  }
  auto request = connection::DirectTcpip::Parse(extra);
  if (!request.ok()) {
    refuse("malformed direct-tcpip request");
    return;
  }
  auto destination = LoopbackDestination(*request);
  if (!destination.ok()) {
    refuse(std::string(destination.status().message()));
    return;
  }
  Log(absl::StrCat("direct-tcpip ", id, " to ",
                   destination->address().to_string(), ":",
                   destination->port()));
  auto forward = std::make_shared<TcpForward>(executor_, this, id);
  channels_[id] = forward;
  forward->Connect(*destination);
}

void ServerConnection::OnData(session::Channel channel, uint32_t stream,
                              wire::Bytes data) {
  if (Channel* c = Find(channel.id())) {
    c->OnData(stream, data);
  } else {
    channel.Consume(data.size());
  }
}

void ServerConnection::OnEof(session::Channel channel) {
  if (Channel* c = Find(channel.id())) c->OnEof();
}

void ServerConnection::OnClose(session::Channel channel) {
  auto it = channels_.find(channel.id());
  if (it == channels_.end()) return;
  std::shared_ptr<Channel> gone = std::move(it->second);
  channels_.erase(it);
  gone->Shutdown();
}

void ServerConnection::OnChannelRequest(session::Channel channel,
                                        std::string_view type, bool want_reply,
                                        wire::Bytes data,
                                        connection::RequestId request) {
  if (Channel* c = Find(channel.id())) {
    c->OnRequest(type, want_reply, data);
  } else if (want_reply) {
    (void)channel.Reply(request, false);
  }
}

void ServerConnection::OnWindowAvailable(session::Channel channel) {
  if (Channel* c = Find(channel.id())) c->Pump();
}

auth::AuthDecision ServerConnection::Decide(const auth::AuthAttempt& attempt) {
  auth::AuthDecision d;
  if (attempt.user != config_.login_user) {
    d.reason =
        absl::StrCat("only ", config_.login_user, " may log in to this server");
    return d;
  }
  if (attempt.certificate.has_value()) {
    // ServerAuth has verified it: trusted CA, user type, signature,
    // validity, principal = user, critical options.
    d.result = auth::AuthResult::kAccept;
    d.reason = "certificate";
    return d;
  }
  for (const auto& key : config_.authorized_keys) {
    if (key == attempt.key) {
      d.result = auth::AuthResult::kAccept;
      d.reason = "authorized key";
      return d;
    }
  }
  d.reason = "key not in authorized keys";
  return d;
}

}  // namespace sallyport::ssh::examples
