#include "tests/e2e/gateway_proxyjump_env.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/net_util.h"
#include "tests/harness/sshd_fixture.h"

namespace sallyport::testing {
namespace {

constexpr absl::Duration kCommandTimeout = absl::Seconds(180);

admin::v1::Role MakeRole(const std::string& name,
                         const std::vector<std::string>& logins,
                         const std::string& env_label,
                         const std::string& name_glob,
                         const std::vector<std::string>& channels) {
  admin::v1::Role role;
  role.set_name(name);
  role.set_description("proxyjump test role " + name);
  for (const auto& l : logins) role.add_logins(l);
  admin::v1::HostSelector* s = role.add_hosts();
  if (!env_label.empty()) (*s->mutable_labels())["env"] = env_label;
  if (!name_glob.empty()) s->add_name_globs(name_glob);
  for (const auto& c : channels) role.add_channels(c);
  return role;
}

}  // namespace

BastionFixture::Options ProxyJumpEnv::DefaultOptions() {
  const std::string l = CurrentUserName();
  BastionFixture::Options o;
  o.roles = {MakeRole("dev", {l}, "dev", "", {"shell", "exec", "sftp"}),
             MakeRole("fwd", {l}, "dev", "",
                      {"shell", "exec", "sftp", "port-forward"}),
             MakeRole("ops", {l}, "dev", "",
                      {"shell", "exec", "sftp", "port-forward", "agent-forward",
                       "proxyjump-passthrough"}),
             MakeRole("dbonly", {"dbadmin"}, "", "db*", {"shell"}),
             MakeRole("fwddb", {l}, "", "db*", {"port-forward"})};
  for (const auto& [name, roles] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"alice", {"dev", "dbonly"}},
           {"frank", {"fwd"}},
           {"olivia", {"ops"}},
           {"bob", {"dev", "fwddb"}}}) {
    BastionUserSpec u;
    u.name = name;
    u.roles = roles;
    o.users.push_back(u);
  }
  o.targets = {{"web01", {{"env", "dev"}}, "host-ca"},
               {"db01", {{"env", "dev"}}, "host-ca"},
               {"web02", {{"env", "prod"}}, "pinned-key"}};
  return o;
}

absl::StatusOr<std::unique_ptr<ProxyJumpEnv>> ProxyJumpEnv::Start(
    BastionFixture::Options options,
    std::function<void(config::GatewayConfig*)> edit_config) {
  // No agent anywhere: recorded ProxyJump must not need one.
  unsetenv("SSH_AUTH_SOCK");
  absl::StatusOr<std::unique_ptr<BastionFixture>> fixture =
      BastionFixture::Start(std::move(options));
  if (!fixture.ok()) return fixture.status();
  absl::StatusOr<TempDir> dir = TempDir::Create("pj");
  if (!dir.ok()) return dir.status();
  chmod(dir->path().c_str(), 0755);
  std::unique_ptr<ProxyJumpEnv> env(
      new ProxyJumpEnv(std::move(*fixture), std::move(*dir)));
  if (absl::Status st = env->StartGateway(edit_config); !st.ok()) return st;
  for (const char* user : {"alice", "frank", "olivia", "bob"}) {
    if (!env->fixture_->user(user).ok()) continue;
    if (absl::Status st = env->WriteHome(user); !st.ok()) return st;
  }
  return env;
}

ProxyJumpEnv::~ProxyJumpEnv() {
  server_.reset();
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- in-process gateway log ---\n"
              << GatewayLog() << "--- end ---\n";
  }
}

std::string ProxyJumpEnv::GatewayLog() {
  absl::MutexLock lock(&log_mu_);
  return log_;
}

uint16_t ProxyJumpEnv::gateway_port() const {
  return server_->local_endpoint().port();
}

absl::Status ProxyJumpEnv::StartGateway(
    const std::function<void(config::GatewayConfig*)>& edit_config) {
  // The token in a file, as operators are told to (not in argv).
  const std::string state = fixture_->gateway_state_dir();
  if (absl::Status st = fixture_->EnrollGateway(
          RunfilePath("gateway/sallyport-gateway"), "sallyport-gw", state);
      !st.ok()) {
    return st;
  }
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<uint16_t> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    if (absl::Status st =
            fixture_->EditGatewayConfig([&](config::GatewayConfig* c) {
              c->set_listen(absl::StrCat("127.0.0.1:", *port));
              c->set_metrics_listen("");
              c->set_threads(2);
              if (edit_config) edit_config(c);
            });
        !st.ok()) {
      return st;
    }
    absl::StatusOr<gateway::GatewaySettings> settings =
        gateway::LoadServeConfig(state + "/gateway.yaml");
    if (!settings.ok()) return settings.status();
    gateway::GatewayServer::Options o;
    o.config = *settings;
    o.config.log_level = "debug";  // the tests read the trace
    o.recorder = &recorder_;
    o.log = [this](std::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_.append(line.data(), line.size());
      log_ += "\n";
    };
    absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> server =
        gateway::GatewayServer::Start(std::move(o));
    if (server.ok()) {
      server_ = std::move(*server);
      return absl::OkStatus();
    }
    last = server.status();
  }
  return last;
}

std::string ProxyJumpEnv::Home(const std::string& user) const {
  return dir_.File("home-" + user);
}

RunOptions ProxyJumpEnv::Options(const std::string& user) const {
  RunOptions o;
  o.timeout = kCommandTimeout;
  o.env["HOME"] = Home(user);
  return o;
}

RunResult ProxyJumpEnv::Run(const std::string& user,
                            const std::vector<std::string>& argv,
                            RunOptions options) const {
  RunOptions o = Options(user);
  o.stdin_data = std::move(options.stdin_data);
  o.cwd = std::move(options.cwd);
  for (auto& [k, v] : options.env) o.env[k] = v;
  absl::StatusOr<RunResult> r = RunCommand(argv, o);
  if (!r.ok()) {
    RunResult failed;
    failed.err = std::string(r.status().message());
    return failed;
  }
  return *r;
}

RunResult ProxyJumpEnv::Shell(const std::string& user,
                              const std::string& script,
                              RunOptions options) const {
  return Run(user, {"/bin/sh", "-c", script}, std::move(options));
}

std::string ProxyJumpEnv::ConfigText(
    const std::string& user, const std::string& home,
    const std::string& inner_key, const std::string& inner_certificate) const {
  absl::StatusOr<const BastionFixture::User*> u = fixture_->user(user);
  const std::string key = (*u)->key, cert = (*u)->certificate;
  std::vector<std::string> names;
  std::string text = absl::StrCat("# The Host blocks `sp config` writes for ",
                                  user, " (issue 13).\n");
  absl::StrAppend(&text, "Host ", kGatewayAlias, "\n  HostName 127.0.0.1\n",
                  "  Port ", gateway_port(), "\n  HostKeyAlias sallyport-gw\n",
                  "  User ", login(), "\n  CertificateFile ", cert,
                  "\n  IdentityFile ", key, "\n");
  for (const char* t : {"web01", "web02", "db01", "nosuchhost", "deadhost"}) {
    names.push_back(t);
    // db01 is also reached as a second hop through web01 (`ssh -J
    // gw,web01 db01-via-web01`): web01's sshd connects to it by address.
    absl::StrAppend(&text, "Host ", t, "\n  ProxyJump ", kGatewayAlias,
                    "\n  User ", login(), "\n  CertificateFile ",
                    inner_certificate, "\n  IdentityFile ", inner_key, "\n");
  }
  if (BastionFixture::Target* db = fixture_->target("db01")) {
    absl::StrAppend(&text, "Host db01-via-web01\n  HostName 127.0.0.1\n  Port ",
                    db->sshd->port(), "\n  HostKeyAlias db01\n  User ", login(),
                    "\n  CertificateFile ", inner_certificate,
                    "\n  IdentityFile ", inner_key, "\n");
  }
  absl::StrAppend(
      &text, "Host ", kGatewayAlias, " ", absl::StrJoin(names, " "),
      " db01-via-web01\n  IdentitiesOnly yes\n", "  UserKnownHostsFile ", home,
      "/.sallyport/known_hosts\n", "  GlobalKnownHostsFile /dev/null\n",
      "  StrictHostKeyChecking yes\n  BatchMode yes\n",
      "  ControlMaster no\n  ControlPath none\n", "  ConnectTimeout 60\n");
  return text;
}

absl::Status ProxyJumpEnv::WriteHome(const std::string& user) {
  const std::string home = Home(user);
  for (const std::string& d : {home, home + "/.ssh", home + "/.sallyport"}) {
    if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError("cannot create " + d);
    }
  }
  absl::StatusOr<const BastionFixture::User*> u = fixture_->user(user);
  if (!u.ok()) return u.status();
  // Restricted to the gateway's and the inventory's names, never `*`.
  const std::string known = absl::StrCat(
      "@cert-authority sallyport-gw,web01,web02,db01,nosuchhost,deadhost ",
      fixture_->host_ca_public_key(), "\n");
  if (absl::Status st =
          WriteFile(home + "/.sallyport/known_hosts", known, 0600);
      !st.ok()) {
    return st;
  }
  return WriteFile(home + "/.ssh/config",
                   ConfigText(user, home, (*u)->key, (*u)->certificate), 0600);
}

absl::StatusOr<std::string> ProxyJumpEnv::MixedIdentityConfig(
    const std::string& user, const std::string& other) {
  absl::StatusOr<const BastionFixture::User*> o = fixture_->user(other);
  if (!o.ok()) return o.status();
  const std::string path = dir_.File("mixed-" + user + "-" + other);
  if (absl::Status st = WriteFile(
          path, ConfigText(user, Home(user), (*o)->key, (*o)->certificate),
          0600);
      !st.ok()) {
    return st;
  }
  return path;
}

}  // namespace sallyport::testing
