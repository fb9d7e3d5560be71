#include "ca/rbac/rbac_test_util.h"

#include <cstdlib>
#include <iostream>

namespace sallyport::ca::rbac::testing {
namespace {

using storage::ChannelKind;
using storage::DenyRule;
using storage::Host;
using storage::HostSelector;
using storage::RecordMode;
using storage::Role;

Host MakeHost(std::string name, std::map<std::string, std::string> labels) {
  Host h;
  h.name = std::move(name);
  h.address = "192.0.2.10";
  h.labels = std::move(labels);
  return h;
}

HostSelector Labels(std::map<std::string, std::string> labels) {
  HostSelector s;
  s.labels = std::move(labels);
  return s;
}

HostSelector Globs(std::vector<std::string> globs) {
  HostSelector s;
  s.name_globs = std::move(globs);
  return s;
}

Role MakeRole(std::string name, std::vector<std::string> logins,
              std::vector<HostSelector> hosts,
              std::vector<ChannelKind> channels,
              RecordMode record = RecordMode::kAlways,
              std::vector<DenyRule> deny = {}) {
  Role r;
  r.name = std::move(name);
  r.logins = std::move(logins);
  r.hosts = std::move(hosts);
  r.channels = std::move(channels);
  r.record = record;
  r.deny = std::move(deny);
  return r;
}

const std::map<std::string, Role>& AllRoles() {
  static const auto* roles = [] {
    auto* m = new std::map<std::string, Role>;
    const std::vector<ChannelKind> every = {
        ChannelKind::kShell,        ChannelKind::kExec,
        ChannelKind::kSftp,         ChannelKind::kPortForward,
        ChannelKind::kAgentForward, ChannelKind::kProxyJumpPassthrough};
    std::vector<Role> list = {
        MakeRole("web-dev", {"ubuntu", "deploy"},
                 {Labels({{"team", "web"}, {"env", "staging"}})},
                 {ChannelKind::kShell, ChannelKind::kExec, ChannelKind::kSftp},
                 RecordMode::kNever),
        MakeRole("web-prod", {"deploy"}, {[] {
                   HostSelector s = Labels({{"env", "prod"}});
                   s.name_globs = {"web*"};
                   return s;
                 }()},
                 {ChannelKind::kExec}),
        MakeRole(
            "ops", {"root", "ubuntu"},
            {Globs({"*.lab", "bastion-?"}), Labels({{"env", "prod"}})}, every,
            RecordMode::kAlways,
            {DenyRule{{"root"}, {Labels({{"env", "prod"}})}, {}},
             DenyRule{{}, {Globs({"db*"})}, {ChannelKind::kAgentForward}}}),
        MakeRole("dba", {"postgres"}, {Labels({{"team", "db"}})},
                 {ChannelKind::kShell, ChannelKind::kPortForward}),
        MakeRole("no-hosts", {"ubuntu"}, {}, {ChannelKind::kShell}),
        MakeRole("auditor", {"ubuntu"}, {HostSelector{}}, {}),
        MakeRole(
            "freeze", {}, {}, {}, RecordMode::kAlways,
            {DenyRule{{}, {Labels({{"env", "prod"}})}, {ChannelKind::kShell}}}),
        MakeRole("web-rec", {"ubuntu"}, {Globs({"web0?"})},
                 {ChannelKind::kShell}, RecordMode::kAlways),
    };
    list[1].max_ttl = absl::Hours(1);
    list[0].max_ttl = absl::Hours(4);
    for (Role& r : list) m->emplace(r.name, std::move(r));
    return m;
  }();
  return *roles;
}

}  // namespace

const std::map<std::string, Host>& Inventory() {
  static const auto* hosts = [] {
    auto* m = new std::map<std::string, Host>;
    for (Host h :
         {MakeHost("web01", {{"env", "prod"}, {"team", "web"}}),
          MakeHost("web02", {{"env", "staging"}, {"team", "web"}}),
          MakeHost("db01", {{"env", "prod"}, {"team", "db"}}),
          MakeHost("bastion-1", {}), MakeHost("build.lab", {{"env", "lab"}}),
          MakeHost("Web03", {{"env", "prod"}, {"team", "web"}})}) {
      m->emplace(h.name, h);
    }
    return m;
  }();
  return *hosts;
}

Role RoleNamed(std::string_view name) {
  auto it = AllRoles().find(std::string(name));
  if (it == AllRoles().end()) {
    std::cerr << "test bug: no role " << name << "\n";
    std::abort();
  }
  return it->second;
}

std::vector<Role> Roles(const std::vector<std::string>& names) {
  std::vector<Role> out;
  for (const std::string& n : names) out.push_back(RoleNamed(n));
  return out;
}

storage::User UserNamed(std::string_view name, bool disabled) {
  storage::User u;
  u.name = std::string(name);
  u.disabled = disabled;
  return u;
}

std::optional<Host> HostNamed(std::string_view name) {
  auto it = Inventory().find(std::string(name));
  if (it == Inventory().end()) return std::nullopt;
  return it->second;
}

}  // namespace sallyport::ca::rbac::testing
