// BastionFixture's gateways: `sallyport-gateway enroll` and `serve` as
// documented, config edits and SIGHUP reloads, restarts, and (ha16) more
// gateways beside the first. The CA, users and targets: bastion_fixture.cc.
#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/yaml_proto.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing {
namespace {

// Replaces the top-level `key:` line of a YAML file (or appends one).
absl::Status SetYamlKey(const std::string& path, const std::string& key,
                        const std::string& value) {
  std::string text = ReadFileOrEmpty(path);
  if (text.empty()) return absl::NotFoundError(path + " is missing or empty");
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  bool replaced = false;
  for (std::string& line : lines) {
    if (absl::StartsWith(line, key + ":")) {
      line = absl::StrCat(key, ": \"", value, "\"");
      replaced = true;
    }
  }
  text = absl::StrJoin(lines, "\n");
  if (!replaced) absl::StrAppend(&text, "\n", key, ": \"", value, "\"\n");
  return WriteFile(path, text, 0600);
}

}  // namespace

absl::Status BastionFixture::EditGatewayConfig(
    const std::function<void(config::GatewayConfig*)>& edit) {
  const std::string path = gateway_state_dir() + "/gateway.yaml";
  config::GatewayConfig c;
  if (absl::Status st = base::YamlFileToProto(path, &c); !st.ok()) return st;
  edit(&c);
  absl::StatusOr<std::string> yaml = base::ProtoToYaml(c);
  if (!yaml.ok()) return yaml.status();
  return WriteFile(path, *yaml, 0600);
}

absl::Status BastionFixture::ReloadGateway(
    const std::function<void(config::GatewayConfig*)>& edit,
    const std::string& logged) {
  if (!gateway_) return absl::FailedPreconditionError("no gateway runs");
  if (absl::Status st = EditGatewayConfig(edit); !st.ok()) return st;
  gateway_->Signal(SIGHUP);
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (!absl::StrContains(GatewayLog(), logged) && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (absl::StrContains(GatewayLog(), logged)) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "reload: \"", logged, "\" not logged in 30 s\n", GatewayLog()));
}

absl::Status BastionFixture::EnrollGateway(const std::string& binary,
                                           const std::string& name,
                                           const std::string& state) {
  absl::StatusOr<std::string> token = CreateJoinToken("gateway", name);
  if (!token.ok()) return token.status();
  const std::string token_file = dir_.File(name + "-join-token");
  if (absl::Status st = WriteFile(token_file, *token + "\n", 0600); !st.ok()) {
    return st;
  }
  absl::StatusOr<RunResult> enroll = RunCommandOk(
      {binary, "enroll", "--ca", ca_address(), "--ca-fingerprint",
       ca_fingerprint_, "--token-file", token_file, "--state-dir", state,
       "--name", name, "--principal", "127.0.0.1", "--principal", "localhost"});
  return enroll.ok() ? absl::OkStatus() : enroll.status();
}

absl::Status BastionFixture::StartGateway(
    const std::string& binary, const std::vector<std::string>& extra,
    const std::function<void(config::GatewayConfig*)>& edit_config) {
  if (gateway_) return absl::FailedPreconditionError("gateway already runs");
  // For its name: a test may enrol it again (a fresh state dir).
  const std::string state = gateway_state_dir();
  if (absl::Status st = EnrollGateway(binary, "sallyport-gw", state);
      !st.ok()) {
    return st;
  }
  const std::string config = state + "/gateway.yaml";
  if (absl::Status st = SetYamlKey(config, "log_level", gateway_log_level_);
      !st.ok()) {
    return st;
  }
  if (!more_cas_.empty()) {  // ha16: every CA instance, failing over
    if (absl::Status st = SetYamlKey(config, "ca", ca_addresses()); !st.ok()) {
      return st;
    }
  }
  if (edit_config) {
    if (absl::Status st = EditGatewayConfig(edit_config); !st.ok()) return st;
  }
  // gwrefuse: the test's edits of the generated config (AddGatewayConfigEdit).
  for (const auto& edit : gateway_config_edits_) {
    if (absl::Status st =
            EditGatewayConfig([&edit](config::GatewayConfig* c) { edit(*c); });
        !st.ok()) {
      return st;
    }
  }
  return ServeGateway(binary, extra);
}

// ship: `serve` with the enrolled state (StartGateway, RestartGateway).
absl::Status BastionFixture::ServeGateway(
    const std::string& binary, const std::vector<std::string>& extra) {
  const std::string config = gateway_state_dir() + "/gateway.yaml";
  absl::Status last = absl::OkStatus();
  // A port can be taken between our probe and the gateway's bind.
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<uint16_t> metrics = FreeLoopbackPort();
    absl::StatusOr<uint16_t> port =
        advertised_gateway_port_ != 0
            ? absl::StatusOr<uint16_t>(advertised_gateway_port_)
            : FreeLoopbackPort();
    if (!metrics.ok()) return metrics.status();
    if (!port.ok()) return port.status();
    if (absl::Status st = SetYamlKey(config, "metrics_listen",
                                     absl::StrCat("127.0.0.1:", *metrics));
        !st.ok()) {
      return st;
    }
    std::vector<std::string> argv = {
        binary, "serve",    "--config",
        config, "--listen", absl::StrCat("127.0.0.1:", *port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    BackgroundProcess::Options po;
    po.log_path = dir_.File("gateway.log");
    absl::StatusOr<std::unique_ptr<BackgroundProcess>> proc =
        BackgroundProcess::Start(argv, po);
    if (!proc.ok()) return proc.status();
    gateway_ = std::move(*proc);
    last = WaitForTcpListener("127.0.0.1", *port, absl::Seconds(20));
    if (last.ok() && gateway_->Running()) {
      gateway_port_ = *port;
      gateway_metrics_port_ = *metrics;
      return WriteClientFiles();
    }
    gateway_.reset();
    if (GatewayLog().find("in use") == std::string::npos) break;
  }
  return absl::UnavailableError(absl::StrCat(
      "the gateway did not start: ", last.message(), "\n", GatewayLog()));
}

absl::StatusOr<std::string> BastionFixture::GatewayHostPublicKey() const {
  absl::StatusOr<RunResult> r =
      RunCommandOk({"ssh-keygen", "-y", "-f",
                    gateway_state_dir() + "/ssh_host_ed25519_key"});
  if (!r.ok()) return r.status();
  return std::string(absl::StripAsciiWhitespace(r->out));
}

absl::Status BastionFixture::RestartGateway(
    const std::string& binary,
    const std::vector<std::string>& extra_serve_args) {
  if (gateway_ && gateway_->Running()) {
    return absl::FailedPreconditionError("the gateway still runs");
  }
  gateway_.reset();
  return ServeGateway(binary, extra_serve_args);
}

int BastionFixture::StopGateway() {
  if (!gateway_) return 0;
  const int status = gateway_->Stop();
  gateway_.reset();
  gateway_port_ = 0;
  return status;
}

// --- ha16 (#16 HA): more gateways ---

absl::StatusOr<int> BastionFixture::StartExtraGateway(const std::string& binary,
                                                      const std::string& name) {
  ExtraGateway g;
  g.name = name;
  g.binary = binary;
  const std::string state = dir_.File(name);
  if (absl::Status st = EnrollGateway(binary, name, state); !st.ok()) {
    return st;
  }
  const std::string config = state + "/gateway.yaml";
  if (absl::Status st = SetYamlKey(config, "ca", ca_addresses()); !st.ok()) {
    return st;
  }
  if (absl::Status st = SetYamlKey(config, "log_level", gateway_log_level_);
      !st.ok()) {
    return st;
  }
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  absl::StatusOr<uint16_t> metrics = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  if (!metrics.ok()) return metrics.status();
  if (absl::Status st = SetYamlKey(config, "metrics_listen",
                                   absl::StrCat("127.0.0.1:", *metrics));
      !st.ok()) {
    return st;
  }
  g.port = *port;
  if (absl::Status st = ServeExtraGateway(g); !st.ok()) return st;
  extra_gateways_.push_back(std::move(g));
  return static_cast<int>(extra_gateways_.size() - 1);
}

absl::Status BastionFixture::ServeExtraGateway(ExtraGateway& g) {
  BackgroundProcess::Options po;
  po.log_path = dir_.File(g.name + ".log");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> proc =
      BackgroundProcess::Start(
          {g.binary, "serve", "--config", dir_.File(g.name) + "/gateway.yaml",
           "--listen", absl::StrCat("127.0.0.1:", g.port)},
          po);
  if (!proc.ok()) return proc.status();
  g.process = std::move(*proc);
  absl::Status up = WaitForTcpListener("127.0.0.1", g.port, absl::Seconds(60));
  if (!up.ok() || !g.process->Running()) {
    return absl::UnavailableError(
        absl::StrCat(g.name, " did not start: ", up.message(), "\n",
                     ReadFileOrEmpty(po.log_path)));
  }
  return absl::OkStatus();
}

absl::Status BastionFixture::RestartExtraGateway(int i) {
  ExtraGateway& g = extra_gateways_[i];
  if (g.process && g.process->Running()) {
    return absl::FailedPreconditionError(g.name + " still runs");
  }
  return ServeExtraGateway(g);
}

// --- end ha16 ---

}  // namespace sallyport::testing
