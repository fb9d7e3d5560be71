// example_client: an SSH client built on //ssh. It completes key exchange
// with a server and verifies the host key (pinned, or certified by a host
// CA). Without --user it only requests the ssh-userauth service (exit
// status 0 when accepted, 1 otherwise). With --user it logs in with
// --identity (and --cert) and runs one command like `ssh host CMD`: our
// stdin goes to the command, its stdout/stderr to ours, and the exit
// status is the command's (128+N for a signal, 255 for errors).
//
//   example_client --connect 127.0.0.1:22 --known-host-key host.pub
//   example_client --connect 127.0.0.1:22 --host-ca ca.pub [--host-name NAME]
//   example_client --connect 127.0.0.1:22 --known-host-key host.pub
//       --user alice --identity id_ed25519 [--cert id_ed25519-cert.pub]
//       [--rekey-bytes N ...] -- CMD ARGS...
//
// At the end it prints "example_client: kex count N" to stderr.
#include <fcntl.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/safe_text.h"
#include "ssh/cert/certificate_file.h"
#include "ssh/crypto/key_files.h"
#include "ssh/crypto/keys.h"
#include "ssh/examples/common.h"
#include "ssh/examples/exec_client.h"
#include "ssh/examples/host_ca.h"
#include "ssh/net/driver.h"
#include "ssh/net/listener.h"
#include "ssh/net/session_driver.h"
#include "ssh/net/spawn.h"
#include "ssh/session/session.h"
#include "ssh/transport/host_key.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::examples {
namespace {

// Service probe (no --user): the session ends after SERVICE_ACCEPT since
// it has no key to offer.
class ProbeHandler : public session::SessionHandler {
 public:
  void OnHandshakeDone(session::Session& s) override {
    Log(absl::StrCat("kex done: ", DescribeAlgorithms(s.transport())));
  }
  void OnData(session::Channel channel, uint32_t, wire::Bytes data) override {
    channel.Consume(data.size());
  }
};

// Restores the standard descriptors' flags (Asio makes them non-blocking,
// which the shell that started us shares).
class StdioFlags {
 public:
  StdioFlags() {
    for (int fd = 0; fd < 3; ++fd) flags_[fd] = fcntl(fd, F_GETFL);
  }
  ~StdioFlags() {
    for (int fd = 0; fd < 3; ++fd) {
      if (flags_[fd] >= 0) fcntl(fd, F_SETFL, flags_[fd]);
    }
  }

 private:
  int flags_[3];
};

struct RunResult {
  absl::Status status;  // how the connection ended
  int kex_count = 0;
  bool service_accepted = false;
};

// Connects and runs a ClientSession with `handler` on `io` to its end.
// `attach` sees the driver before it runs.
RunResult RunSession(asio::io_context& io,
                     const asio::ip::tcp::endpoint& endpoint,
                     const std::string& address,
                     session::ClientSessionOptions options,
                     session::SessionHandler& handler,
                     const std::function<void(net::SessionDriver&)>& attach) {
  RunResult result;
  net::Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        auto socket = co_await net::Dial(io.get_executor(),
                                         endpoint.address().to_string(),
                                         endpoint.port(), absl::Seconds(30));
        if (!socket.ok()) {
          result.status = absl::UnavailableError(absl::StrCat(
              "connect to ", address, ": ", socket.status().message()));
          co_return;
        }
        auto session = session::ClientSession::Create(options, handler);
        if (!session.ok()) {
          result.status = session.status();
          co_return;
        }
        session::ClientSession& client = **session;
        auto driver =
            net::SessionDriver::Create(std::move(*socket), std::move(*session));
        if (!driver.ok()) {
          result.status = driver.status();
          co_return;
        }
        if (attach) attach(**driver);
        result.status = co_await (*driver)->Run();
        result.kex_count = client.transport().kex_count();
        result.service_accepted = client.service_accepted();
      },
      "example_client");
  io.run();
  return result;
}

int RunCommandMode(const asio::ip::tcp::endpoint& endpoint,
                   const std::string& address,
                   const transport::TransportOptions& options,
                   const std::string& user, const std::string& identity,
                   const std::string& cert_path,
                   const std::vector<std::string>& command) {
  if (identity.empty() || command.empty()) {
    std::cerr << "example_client: --user needs --identity and a command\n";
    return 255;
  }
  auto key = crypto::PrivateKey::LoadFile(identity);
  if (!key.ok()) {
    std::cerr << "example_client: " << identity << ": "
              << key.status().message() << "\n";
    return 255;
  }
  session::ClientSessionOptions session_options;
  session_options.transport = options;
  session_options.auth.user = user;
  auth::ClientIdentity id{*key, {}};
  if (!cert_path.empty()) {
    auto blob = cert::LoadCertificate(cert_path, key->public_key());
    if (!blob.ok()) {
      std::cerr << "example_client: " << cert_path << ": "
                << blob.status().message() << "\n";
      return 255;
    }
    id.certificate = blob->blob;
  }
  session_options.auth.identities.push_back(std::move(id));

  StdioFlags restore_flags;
  asio::io_context io(1);
  auto client = std::make_shared<ExecClient>(io.get_executor(),
                                             absl::StrJoin(command, " "));
  RunResult result =
      RunSession(io, endpoint, address, std::move(session_options), *client,
                 [&](net::SessionDriver& driver) {
                   client->Attach(driver);
                   driver.set_on_progress([c = client.get()] { c->Pump(); });
                 });
  client->CloseStreams();
  const int code = client->ExitCode();
  if (!client->error().ok()) {
    std::cerr << "example_client: " << client->error().message() << "\n";
  } else if (code == 255 && !result.status.ok()) {
    std::cerr << "example_client: " << result.status.message() << "\n";
  }
  std::cerr << "example_client: kex count " << result.kex_count << "\n";
  return code;
}

int Main(int argc, char** argv) {
  CLI::App app{"Sallyport example SSH client"};
  std::string connect, known_host_key, host_ca, host_name;
  std::string user, identity, cert;
  std::vector<std::string> command;
  ServerTuning tuning;
  app.add_option("--connect", connect, "HOST:PORT of the server")->required();
  auto* pinned = app.add_option("--known-host-key", known_host_key,
                                "file with the server's public host key(s)");
  auto* ca = app.add_option("--host-ca", host_ca,
                            "file with trusted host CA public key(s)");
  app.add_option("--host-name", host_name,
                 "name the host certificate must list (default: the address)");
  pinned->excludes(ca);
  app.add_option("--user", user, "log in as this user and run the command");
  app.add_option("--identity", identity, "private key file for --user");
  app.add_option("--cert", cert, "certificate for the identity (-cert.pub)");
  app.add_option("command", command, "the command to run (after --)");
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
    auto keys = crypto::LoadPublicKeys(known_host_key);
    if (!keys.ok()) {
      std::cerr << "example_client: " << keys.status().message() << "\n";
      return 2;
    }
    options.host_key_policy =
        std::make_shared<transport::PinnedHostKeyPolicy>(*keys);
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

  if (!user.empty()) {
    return RunCommandMode(*endpoint, connect, options, user, identity, cert,
                          command);
  }

  session::ClientSessionOptions probe_options;
  probe_options.transport = options;
  ProbeHandler probe;
  asio::io_context io(1);
  RunResult result = RunSession(io, *endpoint, connect,
                                std::move(probe_options), probe, nullptr);
  if (result.service_accepted) {
    Log("SERVICE_ACCEPT ssh-userauth");
    return 0;
  }
  std::cerr << "example_client: " << result.status.message() << "\n";
  return 1;
}

}  // namespace
}  // namespace sallyport::ssh::examples

int main(int argc, char** argv) {
  return sallyport::ssh::examples::Main(argc, argv);
}
