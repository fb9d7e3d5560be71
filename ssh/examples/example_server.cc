// example_server: an SSH server built on //ssh, for interop tests and for
// people reading the code. Users log in with a public key listed in
// --authorized-keys or a certificate from a --user-ca (principal = the
// login user); only the user running the server may log in, and commands
// run as that user. Session channels run exec/shell commands through
// /bin/sh (with a pty on pty-req) and the sftp subsystem; direct-tcpip
// (ssh -L) reaches loopback destinations only.
//
//   example_server --listen 127.0.0.1:2222 --host-key KEY [--host-cert CERT]
//                  [--authorized-keys FILE] [--user-ca FILE]
//                  [--ciphers ... --rekey-bytes N ...]
//
// Prints "listening on HOST:PORT" once it accepts connections (use port 0
// to let the kernel choose).
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ssh/cert/certificate_file.h"
#include "ssh/crypto/key_files.h"
#include "ssh/crypto/keys.h"
#include "ssh/examples/child_reaper.h"
#include "ssh/examples/common.h"
#include "ssh/examples/host_ca.h"
#include "ssh/examples/server_connection.h"
#include "ssh/net/driver.h"
#include "ssh/net/listener.h"

namespace sallyport::ssh::examples {
namespace {

int Main(int argc, char** argv) {
  CLI::App app{"Sallyport example SSH server"};
  std::string listen = "127.0.0.1:2222";
  std::string host_key_path, host_cert_path, authorized_keys_path, user_ca_path;
  ServerTuning tuning;
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any)");
  app.add_option("--host-key", host_key_path,
                 "host private key (openssh or PKCS#8)")
      ->required();
  app.add_option("--host-cert", host_cert_path,
                 "host certificate for the key (optional)");
  app.add_option("--authorized-keys", authorized_keys_path,
                 "public keys allowed to log in (authorized_keys format)");
  app.add_option("--user-ca", user_ca_path,
                 "CA public keys whose user certificates are trusted");
  std::string max_startups = "10:30:100";
  int max_unauthenticated = 1000;
  app.add_option("--max-startups", max_startups,
                 "START:RATE:FULL random early drop of unauthenticated "
                 "connections, as sshd's MaxStartups");
  app.add_option("--max-unauthenticated", max_unauthenticated,
                 "cap on unauthenticated connections");
  tuning.AddFlags(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  signal(SIGPIPE, SIG_IGN);

  auto key = crypto::PrivateKey::LoadFile(host_key_path);
  if (!key.ok()) {
    std::cerr << "example_server: " << host_key_path << ": "
              << key.status().message() << "\n";
    return 1;
  }
  ServerConfig config;
  transport::TransportOptions& options = config.transport;
  options.role = transport::Role::kServer;
  transport::ServerHostKey host_key{*key, {}};
  if (!host_cert_path.empty()) {
    auto cert = cert::LoadCertificate(host_cert_path, key->public_key());
    if (!cert.ok()) {
      std::cerr << "example_server: " << host_cert_path << ": "
                << cert.status().message() << "\n";
      return 1;
    }
    host_key.certificate = cert->blob;
  }
  options.host_keys.push_back(std::move(host_key));
  if (absl::Status s = tuning.Apply(options); !s.ok()) {
    std::cerr << "example_server: " << s.message() << "\n";
    return 2;
  }
  if (!authorized_keys_path.empty()) {
    auto keys = crypto::LoadPublicKeys(authorized_keys_path,
                                       crypto::KeyFileFormat::kAuthorizedKeys,
                                       /*require_one=*/false);
    if (!keys.ok()) {
      std::cerr << "example_server: " << keys.status().message() << "\n";
      return 2;
    }
    config.authorized_keys = *keys;
  }
  if (!user_ca_path.empty()) {
    auto cas = crypto::LoadPublicKeys(user_ca_path);
    if (!cas.ok()) {
      std::cerr << "example_server: " << cas.status().message() << "\n";
      return 2;
    }
    config.user_cas = *cas;
  }
  if (const struct passwd* pw = getpwuid(geteuid()); pw != nullptr) {
    config.login_user = pw->pw_name;
    config.home = pw->pw_dir;
    config.shell = pw->pw_shell;
  } else {
    std::cerr << "example_server: the current user has no passwd entry\n";
    return 1;
  }
  auto endpoint = net::ParseEndpoint(listen);
  if (!endpoint.ok()) {
    std::cerr << "example_server: " << endpoint.status().message() << "\n";
    return 2;
  }
  net::ListenerOptions listener_options;
  auto startups = net::MaxStartups::Parse(max_startups);
  if (!startups.ok()) {
    std::cerr << "example_server: " << startups.status().message() << "\n";
    return 2;
  }
  listener_options.max_startups = *startups;
  listener_options.max_unauthenticated = max_unauthenticated;
  listener_options.login_grace_time = options.login_grace_time;

  asio::io_context io(1);
  ChildReaper reaper(io);  // before any child is forked
  auto listener = net::Listener::Create(
      io.get_executor(), *endpoint, listener_options, nullptr,
      [&config, &reaper](asio::ip::tcp::socket socket,
                         std::shared_ptr<net::PreAuthSlot> slot) {
        return ServerConnection::Serve(std::move(socket), config, reaper,
                                       std::move(slot));
      });
  if (!listener.ok()) {
    std::cerr << "example_server: " << listener.status().message() << "\n";
    return 1;
  }
  auto local = (*listener)->local_endpoint();
  std::cout << "listening on " << local.address().to_string() << ":"
            << local.port() << std::endl;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int) {
    (*listener)->Close();
    reaper.SignalAll(SIGHUP);
    io.stop();
  });
  (*listener)->Start();
  io.run();
  return 0;
}

}  // namespace
}  // namespace sallyport::ssh::examples

int main(int argc, char** argv) {
  return sallyport::ssh::examples::Main(argc, argv);
}
