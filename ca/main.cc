// sallyport-ca: the Sallyport certificate authority.
//
//   sallyport-ca init --state-dir DIR [--admin NAME]
//                     [--admin-password-file FILE] [--store URL]
//   sallyport-ca serve --config DIR/ca.yaml [--listen HOST:PORT]
//   sallyport-ca unlock USER --config DIR/ca.yaml
//
// serve: SIGTERM / SIGINT stop the server; SIGHUP re-reads the config and
// applies logging.level (other changes need a restart, and the log says
// so); a config that no longer loads is logged and the old one kept.
//
// This is where the concrete store backend is chosen (storage::OpenStore).
#include <openssl/crypto.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/files.h"
#include "base/notify.h"
#include "base/secret_bytes.h"
#include "base/version.h"
#include "ca/ca_config.h"
#include "ca/init.h"
#include "ca/server.h"
#include "storage/open.h"

namespace sallyport::ca {
namespace {

int Fail(const absl::Status& status) {
  std::cerr << "sallyport-ca: " << status.message() << "\n";
  return 1;
}

int RunInit(const std::string& state_dir_arg, const std::string& admin,
            const std::string& password_file, const std::string& store_arg,
            const std::string& listen, int scrypt_log_n, bool session_ca) {
  const std::string state_dir =
      std::filesystem::absolute(state_dir_arg).lexically_normal().string();
  if (absl::Status st = ValidateListen("--listen", listen); !st.ok()) {
    return Fail(st);
  }
  InitOptions options;
  options.state_dir = state_dir;
  options.admin = admin;
  options.listen = listen;
  options.scrypt.log_n = scrypt_log_n;
  options.session_ca = session_ca;
  options.store_url =
      store_arg.empty() ? DefaultStoreUrl(state_dir) : store_arg;
  if (!password_file.empty()) {
    absl::StatusOr<std::string> pw = base::ReadFirstLine(password_file);
    if (!pw.ok()) return Fail(pw.status());
    options.admin_password = base::SecretBytes::FromString(*pw);
    OPENSSL_cleanse(pw->data(), pw->size());
  }
  if (absl::Status st = PrepareStateDir(state_dir); !st.ok()) return Fail(st);
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(options.store_url);
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<InitResult> result = InitializeCa(options, store->get());
  if (!result.ok()) return Fail(result.status());
  std::cout << "Initialised the Sallyport CA in " << state_dir << "\n"
            << "  config file:     " << result->config_path << "\n"
            << "  user CA:         " << result->user_ca_public_key << "\n"
            << "  host CA:         " << result->host_ca_public_key << "\n";
  if (!result->session_ca_public_key.empty()) {
    std::cout << "  session CA:      " << result->session_ca_public_key << "\n";
  }
  std::cout << "  TLS fingerprint: " << result->tls_fingerprint << "\n"
            << "  admin user:      " << result->admin << "\n";
  if (result->password_generated) {
    std::cout << "  admin password:  "
              << std::string(result->admin_password.view()) << "\n"
              << "The password is shown only this once.\n";
  } else {
    std::cout << "  admin password:  (from " << password_file << ")\n";
  }
  std::cout << "Start it with: sallyport-ca serve --config "
            << result->config_path << "\n";
  std::cout.flush();
  return 0;
}

// Takes the stop and reload signals with sigwait (they are blocked in every
// thread, gRPC's included), so no work runs in a signal handler. Returns
// once the server has been told to stop.
void HandleSignals(const sigset_t& signals, const std::string& config_path,
                   CaServer* server) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGHUP) {
      spdlog::info("signal {}: shutting down", sig);
      base::NotifyStopping();
      server->Shutdown(absl::Seconds(10));
      return;
    }
    base::NotifyReloading();
    absl::StatusOr<CaSettings> reloaded = LoadCaSettings(config_path);
    if (!reloaded.ok()) {
      spdlog::error("SIGHUP: {} not reloaded, keeping the running config: {}",
                    config_path, std::string(reloaded.status().message()));
      base::NotifyReady("config not reloaded; running on the old one");
      continue;
    }
    spdlog::set_level(spdlog::level::from_str(reloaded->log_level));
    spdlog::warn(
        "SIGHUP: reloaded {}: logging.level={} applied; other changes take "
        "effect at the next restart",
        config_path, reloaded->log_level);
    base::NotifyReady(absl::StrCat("listening on ", server->address()));
  }
}

int RunServe(const std::string& config_path, const std::string& listen) {
  const sigset_t signals = base::BlockLifecycleSignals();
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a
  // debugging aid; the tests keep it): a few percent of an issuance's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<CaSettings> settings = LoadCaSettings(config_path);
  if (!settings.ok()) return Fail(settings.status());
  spdlog::set_level(spdlog::level::from_str(settings->log_level));
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(settings->store_url);
  if (!store.ok()) return Fail(store.status());
  CaServer::Options options;
  options.settings = *settings;
  options.store = store->get();
  options.listen = listen;
  absl::StatusOr<std::unique_ptr<CaServer>> server =
      CaServer::Start(std::move(options));
  if (!server.ok()) return Fail(server.status());
  spdlog::info("sallyport-ca listening on {}", (*server)->address());
  base::NotifyReady(absl::StrCat("listening on ", (*server)->address()));

  CaServer* s = server->get();
  std::thread signal_thread(
      [&signals, &config_path, s] { HandleSignals(signals, config_path, s); });
  s->Wait();
  signal_thread.join();
  spdlog::info("stopped");
  return 0;
}

int RunUnlock(const std::string& config_path, const std::string& user) {
  absl::StatusOr<CaSettings> settings = LoadCaSettings(config_path);
  if (!settings.ok()) return Fail(settings.status());
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(settings->store_url);
  if (!store.ok()) return Fail(store.status());
  if (absl::Status st = UnlockUserLocally(store->get(), user); !st.ok()) {
    return Fail(st);
  }
  std::cout << "unlocked " << user << " (every source)\n";
  return 0;
}

int RunRetireSessionKey(const std::string& config_path) {
  absl::StatusOr<CaSettings> settings = LoadCaSettings(config_path);
  if (!settings.ok()) return Fail(settings.status());
  if (!settings->session_ca_key.empty()) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        config_path, " still names keys.session_ca (", settings->session_ca_key,
        "): take it out first, or the next start registers it again")));
  }
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(settings->store_url);
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<std::optional<storage::CaKey>> retired =
      RetireSessionCaKeyLocally(store->get());
  if (!retired.ok()) return Fail(retired.status());
  if (!retired->has_value()) {
    std::cout << "the store has no active session CA key: nothing to do\n";
    return 0;
  }
  std::cout << "retired the session CA key " << (*retired)->fingerprint
            << ": session certificates are signed with the user CA key from "
               "the next start; targets must trust the user CA key "
               "(`spctl ca target-keys`)\n";
  return 0;
}

}  // namespace
}  // namespace sallyport::ca

int main(int argc, char** argv) {
  CLI::App app{"sallyport-ca: the Sallyport SSH certificate authority"};
  app.name("sallyport-ca");
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", std::string("sallyport-ca ") + sallyport::base::kVersion);

  std::string state_dir, admin = "admin", password_file, store_url;
  std::string init_listen(sallyport::ca::kDefaultListen);
  int scrypt_log_n = 15;
  CLI::App* init = app.add_subcommand(
      "init", "create the CA keys, TLS material, store and first admin");
  init->add_option("--state-dir", state_dir, "directory for the CA's files")
      ->required();
  init->add_option("--admin", admin, "name of the first admin (default admin)");
  init->add_option("--admin-password-file", password_file,
                   "read the admin password from the first line of FILE "
                   "(default: generate one and print it once)");
  init->add_option("--store", store_url,
                   "store URL (default sqlite://STATE_DIR/ca.db; or "
                   "postgresql://...)");
  init->add_option("--listen", init_listen, "listen address for ca.yaml");
  init->add_option("--scrypt-log-n", scrypt_log_n,
                   "scrypt cost for password hashes (10..20, default 15)");
  bool session_ca = false;
  init->add_flag("--session-ca", session_ca,
                 "also write a session CA key (keys.session_ca) that signs "
                 "only the gateway's session certificates; hosts that trust "
                 "only it refuse users' own certificates");

  std::string config_path, listen;
  CLI::App* serve = app.add_subcommand("serve", "run the gRPC server");
  serve->add_option("--config", config_path, "config file (ca.yaml)")
      ->required();
  serve->add_option("--listen", listen,
                    "HOST:PORT with a port in 1..65535, overrides the config "
                    "(default 127.0.0.1:7443; port 0 picks a free port and "
                    "logs it)");

  std::string unlock_user, unlock_config;
  CLI::App* unlock = app.add_subcommand(
      "unlock",
      "on the CA host: end every lockout of USER (no network; works with "
      "the CA running)");
  unlock->add_option("USER", unlock_user, "the user to unlock")->required();
  unlock->add_option("--config", unlock_config, "config file (ca.yaml)")
      ->required();

  std::string retire_config;
  CLI::App* retire = app.add_subcommand(
      "retire-session-key",
      "on the CA host: retire the store's session CA key, so that the CA "
      "starts without keys.session_ca and signs session certificates with "
      "the user CA key again");
  retire->add_option("--config", retire_config, "config file (ca.yaml)")
      ->required();

  CLI11_PARSE(app, argc, argv);
  if (init->parsed()) {
    return sallyport::ca::RunInit(state_dir, admin, password_file, store_url,
                                  init_listen, scrypt_log_n, session_ca);
  }
  if (unlock->parsed()) {
    return sallyport::ca::RunUnlock(unlock_config, unlock_user);
  }
  if (retire->parsed()) {
    return sallyport::ca::RunRetireSessionKey(retire_config);
  }
  return sallyport::ca::RunServe(config_path, listen);
}
