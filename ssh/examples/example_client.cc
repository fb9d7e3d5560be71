// example_client: an SSH client built on //ssh. It completes key exchange
// with a server, verifies the host key (pinned, or certified by a host CA),
// and requests the ssh-userauth service.
//
//   example_client --connect 127.0.0.1:22 --known-host-key host.pub
//   example_client --connect 127.0.0.1:22 --host-ca ca.pub [--host-name NAME]
//
// Exit status 0 when the server accepted the service request.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ssh/crypto/keys.h"
#include "ssh/examples/common.h"
#include "ssh/examples/host_ca.h"
#include "ssh/net/driver.h"
#include "ssh/transport/host_key.h"
#include "ssh/transport/messages.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::examples {
namespace {

using transport::Transport;

class ClientHandler : public net::MessageHandler {
 public:
  bool accepted = false;

  absl::Status OnHandshakeDone(Transport& t) override {
    Log(absl::StrCat("kex done: ", DescribeAlgorithms(t)));
    return t.Send(transport::SerializeServiceMsg(transport::kMsgServiceRequest, "ssh-userauth"));
  }

  absl::Status OnMessage(Transport& t, wire::Bytes payload) override {
    if (payload[0] == transport::kMsgServiceAccept) {
      auto name = transport::ParseServiceMsg(transport::kMsgServiceAccept, payload);
      if (!name.ok()) return name.status();
      Log(absl::StrCat("SERVICE_ACCEPT ", SafeText(*name)));
      accepted = *name == "ssh-userauth";
      t.Disconnect(transport::DisconnectReason::kByApplication, "done");
    }
    return absl::OkStatus();
  }
};

int Main(int argc, char** argv) {
  CLI::App app{"Sallyport example SSH client"};
  std::string connect, known_host_key, host_ca, host_name;
  ServerTuning tuning;
  app.add_option("--connect", connect, "HOST:PORT of the server")->required();
  auto* pinned = app.add_option("--known-host-key", known_host_key,
                                "file with the server's public host key(s)");
  auto* ca = app.add_option("--host-ca", host_ca, "file with trusted host CA public key(s)");
  app.add_option("--host-name", host_name,
                 "name the host certificate must list (default: the address)");
  pinned->excludes(ca);
  tuning.AddFlags(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  signal(SIGPIPE, SIG_IGN);
  if (known_host_key.empty() && host_ca.empty()) {
    std::cerr << "example_client: need --known-host-key or --host-ca\n";
    return 2;
  }
  auto endpoint = net::ParseEndpoint(connect);
  if (!endpoint.ok()) {
    std::cerr << "example_client: " << endpoint.status().message() << "\n";
    return 2;
  }
  transport::TransportOptions options;
  options.role = transport::Role::kClient;
  if (!known_host_key.empty()) {
    auto keys = LoadPublicKeys(known_host_key);
    if (!keys.ok()) {
      std::cerr << "example_client: " << keys.status().message() << "\n";
      return 2;
    }
    options.host_key_policy = std::make_shared<transport::PinnedHostKeyPolicy>(*keys);
  } else {
    if (host_name.empty()) host_name = endpoint->address().to_string();
    auto policy = MakeHostCaPolicy(host_ca, host_name);
    if (!policy.ok()) {
      std::cerr << "example_client: " << policy.status().message() << "\n";
      return 2;
    }
    options.host_key_policy = *policy;
  }
  if (absl::Status s = tuning.Apply(options); !s.ok()) {
    std::cerr << "example_client: " << s.message() << "\n";
    return 2;
  }

  asio::io_context io;
  ClientHandler handler;
  absl::Status result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::ip::tcp::socket socket(io);
        auto [ec] = co_await socket.async_connect(
            *endpoint, asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) {
          result = absl::UnavailableError(absl::StrCat("connect to ", connect, ": ", ec.message()));
          co_return;
        }
        auto t = Transport::Create(options);
        if (!t.ok()) {
          result = t.status();
          co_return;
        }
        net::TransportDriver driver(std::move(socket), std::move(*t));
        result = co_await driver.Run(handler);
      },
      asio::detached);
  io.run();
  if (handler.accepted) return 0;
  std::cerr << "example_client: " << result.message() << "\n";
  return 1;
}

}  // namespace
}  // namespace sallyport::ssh::examples

int main(int argc, char** argv) { return sallyport::ssh::examples::Main(argc, argv); }
