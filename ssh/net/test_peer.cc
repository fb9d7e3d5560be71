#include "ssh/net/test_peer.h"

#include "ssh/transport/messages.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::net::testing {

std::pair<asio::ip::tcp::socket, asio::ip::tcp::socket> LoopbackPair(
    asio::io_context& io, int buffer) {
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ip::tcp::socket client(io), server(io);
  client.open(asio::ip::tcp::v4());
  if (buffer > 0) {
    // Before connect, so the window is negotiated small.
    client.set_option(asio::socket_base::send_buffer_size(buffer));
    client.set_option(asio::socket_base::receive_buffer_size(buffer));
  }
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  if (buffer > 0) {
    server.set_option(asio::socket_base::send_buffer_size(buffer));
    server.set_option(asio::socket_base::receive_buffer_size(buffer));
  }
  return {std::move(client), std::move(server)};
}

const TestKeys& TestKeys::Get() {
  static const TestKeys* keys =
      new TestKeys{*crypto::PrivateKey::GenerateEd25519()};
  return *keys;
}

std::unique_ptr<transport::Transport> ServerTransport(
    absl::Duration login_grace) {
  transport::TransportOptions o;
  o.role = transport::Role::kServer;
  o.host_keys.push_back(transport::ServerHostKey{TestKeys::Get().host, {}});
  o.login_grace_time = login_grace;
  return *transport::Transport::Create(o);
}

std::unique_ptr<transport::Transport> ClientTransport() {
  transport::TransportOptions o;
  o.role = transport::Role::kClient;
  o.host_key_policy = std::make_shared<transport::PinnedHostKeyPolicy>(
      std::vector<crypto::PublicKey>{TestKeys::Get().host.public_key()});
  return *transport::Transport::Create(o);
}

absl::Status MinimalServer::OnMessage(transport::Transport& t, wire::Bytes p) {
  switch (p[0]) {
    case transport::kMsgServiceRequest:
      return t.Send(transport::SerializeServiceMsg(transport::kMsgServiceAccept,
                                                   "ssh-userauth"));
    case transport::kMsgUserauthRequest: {
      ++auth_requests;
      if (accept_auth_) {
        const uint8_t ok = transport::kMsgUserauthSuccess;
        return t.Send(absl::MakeConstSpan(&ok, 1));
      }
      wire::Writer w;
      w.Byte(transport::kMsgUserauthFailure)
          .NameList({"publickey"})
          .Bool(false);
      return t.Send(w.data());
    }
    case kEcho: {
      ++echoes;
      const uint8_t reply = kEchoReply;
      return t.Send(absl::MakeConstSpan(&reply, 1));
    }
  }
  return absl::OkStatus();
}

}  // namespace sallyport::ssh::net::testing
