// example_server: an SSH server built on //ssh, for interop tests and for
// people reading the code. It completes key exchange and the ssh-userauth
// service request; user authentication refuses every attempt for now.
//
//   example_server --listen 127.0.0.1:2222 --host-key KEY [--host-cert CERT]
//
// Prints "listening on HOST:PORT" once it accepts connections (use port 0
// to let the kernel choose).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ssh/crypto/keys.h"
#include "ssh/examples/common.h"
#include "ssh/net/driver.h"
#include "ssh/transport/messages.h"
#include "ssh/transport/transport.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::examples {
namespace {

using transport::Transport;

class ServerHandler : public net::MessageHandler {
 public:
  absl::Status OnHandshakeDone(Transport& t) override {
    Log(absl::StrCat("kex done: ", DescribeAlgorithms(t)));
    return absl::OkStatus();
  }

  absl::Status OnMessage(Transport& t, wire::Bytes payload) override {
    wire::Reader r(payload);
    auto type = r.ReadByte();
    if (!type.ok()) return type.status();
    if (*type == transport::kMsgServiceRequest) {
      auto service = transport::ParseServiceMsg(transport::kMsgServiceRequest, payload);
      if (!service.ok()) return service.status();
      if (*service != "ssh-userauth") {
        t.Disconnect(transport::DisconnectReason::kServiceNotAvailable, "service not available");
        return absl::OkStatus();
      }
      Log("service request: ssh-userauth accepted");
      return t.Send(transport::SerializeServiceMsg(transport::kMsgServiceAccept, "ssh-userauth"));
    }
    if (*type == transport::kMsgUserauthRequest) {
      auto user = r.ReadCString(256);
      if (!user.ok()) return user.status();
      Log(absl::StrCat("userauth request for ", SafeText(*user), ": refused"));
      wire::Writer w;
      w.Byte(transport::kMsgUserauthFailure).NameList({"publickey"}).Bool(false);
      return t.Send(w.data());
    }
    return absl::OkStatus();
  }
};

asio::awaitable<void> Serve(asio::ip::tcp::socket socket, transport::TransportOptions options) {
  std::string peer;
  asio::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (!ec) peer = absl::StrCat(ep.address().to_string(), ":", ep.port());
  auto t = Transport::Create(options);
  if (!t.ok()) {
    Log(absl::StrCat("cannot create transport: ", t.status().ToString()));
    co_return;
  }
  net::TransportDriver driver(std::move(socket), std::move(*t));
  ServerHandler handler;
  absl::Status end = co_await driver.Run(handler);
  Log(absl::StrCat("connection from ", peer, " ended: ", end.ToString(), " (kex count ",
                   driver.transport().kex_count(), ")"));
}

asio::awaitable<void> AcceptLoop(asio::ip::tcp::acceptor& acceptor,
                                 transport::TransportOptions options) {
  const auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      Log(absl::StrCat("accept failed: ", ec.message()));
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), Serve(std::move(socket), options), asio::detached);
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"Sallyport example SSH server"};
  std::string listen = "127.0.0.1:2222";
  std::string host_key_path, host_cert_path;
  ServerTuning tuning;
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any)");
  app.add_option("--host-key", host_key_path, "host private key (openssh or PKCS#8)")->required();
  app.add_option("--host-cert", host_cert_path, "host certificate for the key (optional)");
  tuning.AddFlags(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  signal(SIGPIPE, SIG_IGN);

  auto key = crypto::PrivateKey::LoadFile(host_key_path);
  if (!key.ok()) {
    std::cerr << "example_server: " << host_key_path << ": " << key.status().message() << "\n";
    return 1;
  }
  transport::TransportOptions options;
  options.role = transport::Role::kServer;
  transport::ServerHostKey host_key{*key, {}};
  if (!host_cert_path.empty()) {
    auto cert = LoadCertificateBlob(host_cert_path, key->public_key());
    if (!cert.ok()) {
      std::cerr << "example_server: " << host_cert_path << ": " << cert.status().message() << "\n";
      return 1;
    }
    host_key.certificate = *cert;
  }
  options.host_keys.push_back(std::move(host_key));
  if (absl::Status s = tuning.Apply(options); !s.ok()) {
    std::cerr << "example_server: " << s.message() << "\n";
    return 2;
  }
  auto endpoint = net::ParseEndpoint(listen);
  if (!endpoint.ok()) {
    std::cerr << "example_server: " << endpoint.status().message() << "\n";
    return 2;
  }
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io);
  asio::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "example_server: cannot listen on " << listen << ": " << ec.message() << "\n";
    return 1;
  }
  auto local = acceptor.local_endpoint();
  std::cout << "listening on " << local.address().to_string() << ":" << local.port() << std::endl;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int) {
    acceptor.close();
    io.stop();
  });
  asio::co_spawn(io, AcceptLoop(acceptor, options), asio::detached);
  io.run();
  return 0;
}

}  // namespace
}  // namespace sallyport::ssh::examples

int main(int argc, char** argv) { return sallyport::ssh::examples::Main(argc, argv); }
