#include "tests/e2e/ca_e2e_util.h"

#include <regex>

#include "absl/strings/str_cat.h"

namespace sallyport::e2e {

using sallyport::testing::ListeningProcess;
using sallyport::testing::RunCommandOk;
using sallyport::testing::RunfilePath;
using sallyport::testing::RunOptions;
using sallyport::testing::TempDir;

absl::StatusOr<std::unique_ptr<RunningCa>> RunningCa::Start(
    const std::string& admin, const std::string& store_url,
    const std::vector<std::string>& extra_init_args,
    const std::string& config_append) {
  absl::StatusOr<TempDir> dir = TempDir::Create("e2eca");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<RunningCa> ca(new RunningCa(std::move(*dir)));
  ca->state_dir_ = ca->dir_.File("state");
  const std::string bin = RunfilePath("ca/sallyport-ca");
  std::vector<std::string> init = {
      bin, "init", "--state-dir", ca->state_dir_, "--admin", admin};
  if (!store_url.empty()) {
    init.push_back("--store");
    init.push_back(store_url);
  }
  init.insert(init.end(), extra_init_args.begin(), extra_init_args.end());
  absl::StatusOr<sallyport::testing::RunResult> r = RunCommandOk(init);
  if (!r.ok()) return r.status();
  ca->init_output_ = r->out;
  std::smatch m;
  static const std::regex kPassword(R"(admin password:\s+(\S+))");
  static const std::regex kFingerprint(R"(TLS fingerprint:\s+(SHA256:\S+))");
  static const std::regex kStore(R"(store: \"([^\"]+)\")");
  if (std::regex_search(r->out, m, kPassword)) ca->password_ = m[1].str();
  if (std::regex_search(r->out, m, kFingerprint)) ca->fingerprint_ = m[1].str();
  const std::string config =
      sallyport::testing::ReadFileOrEmpty(ca->config_path());
  if (std::regex_search(config, m, kStore)) ca->store_url_ = m[1].str();
  if (ca->password_.empty() || ca->fingerprint_.empty() ||
      ca->store_url_.empty()) {
    return absl::InternalError(
        absl::StrCat("unexpected init output:\n", r->out, "\n", config));
  }
  if (!config_append.empty()) {
    absl::Status w = sallyport::testing::WriteFile(
        ca->config_path(), config + "\n" + config_append, 0600);
    if (!w.ok()) return w;
  }
  absl::StatusOr<std::unique_ptr<ListeningProcess>> server =
      ListeningProcess::Start({bin, "serve", "--config", ca->config_path(),
                               "--listen", "127.0.0.1:0"},
                              ca->dir_.File("serve.log"));
  if (!server.ok()) return server.status();
  ca->server_ = std::move(*server);
  return ca;
}

std::string RunningCa::address() const {
  return absl::StrCat("127.0.0.1:", server_->port());
}

int RunningCa::Stop() {
  if (!server_) return 0;
  return server_->process().Stop();
}

absl::StatusOr<sallyport::testing::RunResult> RunSp(
    const std::string& home, const std::vector<std::string>& args,
    const std::string& stdin_data,
    const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {"setsid", "-w", RunfilePath("cli/sp")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.stdin_data = stdin_data;
  options.env = env;
  options.env["SALLYPORT_HOME"] = home;
  if (options.env.find("SSH_AUTH_SOCK") == options.env.end()) {
    options.env["SSH_AUTH_SOCK"] = "";
  }
  return sallyport::testing::RunCommand(argv, options);
}

}  // namespace sallyport::e2e
