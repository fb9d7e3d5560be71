// CaService::ListMyHosts: the inventory hosts the calling user may reach
// and the logins RBAC allows there (`sp config`, `sp ls`), and where users
// reach the gateway (CA config gateway.ssh_addresses).
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ca/ca_service.h"
#include "ca/rbac/names.h"
#include "ca/rbac/rbac.h"
#include "ca/service_util.h"

namespace sallyport::ca {

absl::StatusOr<std::vector<ReachableHost>> ReachableHosts(
    const storage::User& user, const std::vector<storage::Role>& roles,
    const std::vector<storage::Host>& inventory, std::string_view after,
    size_t max_hosts) {
  std::vector<ReachableHost> out;
  // Every login any role names: a host is reachable as a login only when
  // RBAC allows it at least one channel kind there.
  std::set<std::string> logins;
  for (const storage::Role& role : roles) {
    for (const std::string& l : role.logins) {
      if (rbac::ValidateLogin(l).ok()) logins.insert(l);
    }
  }
  for (const storage::Host& host : inventory) {
    if (out.size() >= max_hosts) break;
    if (host.name <= after || !rbac::ValidateHostName(host.name).ok()) {
      continue;
    }
    ReachableHost r{host, {}};
    for (const std::string& login : logins) {
      const rbac::Permissions p =
          rbac::EffectivePermissions(user, roles, login, host.name, host);
      if (p.decision.allowed) r.logins.push_back(login);
    }
    if (!r.logins.empty()) out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(),
            [](const ReachableHost& a, const ReachableHost& b) {
              return a.host.name < b.host.name;
            });
  return out;
}

grpc::Status CaService::ListMyHosts(grpc::ServerContext* context,
                                    const v1::ListMyHostsRequest* request,
                                    v1::ListMyHostsResponse* response) {
  absl::StatusOr<ClientIdentity> peer = ctx_.peers->Authenticate(*context);
  if (!peer.ok()) return ToGrpc(peer.status());
  if (peer->kind != ClientIdentity::Kind::kUser) {
    return ToGrpc(absl::PermissionDeniedError(
        "ListMyHosts lists a user's hosts; a gateway identity has none"));
  }
  absl::StatusOr<storage::User> user = ctx_.store->GetUser(peer->name);
  if (!user.ok()) return ToGrpc(user.status());
  absl::StatusOr<std::vector<storage::Role>> roles =
      ctx_.store->ListRolesForUser(user->name);
  if (!roles.ok()) return ToGrpc(roles.status());
  absl::StatusOr<std::vector<storage::Host>> inventory =
      ctx_.store->ListHosts();
  if (!inventory.ok()) return ToGrpc(inventory.status());
  // One page: the token is the last name of the page before.
  ListPage page(request->page_size());
  absl::StatusOr<std::vector<ReachableHost>> hosts = ReachableHosts(
      *user, *roles, *inventory, request->page_token(), page.max_entries());
  if (!hosts.ok()) return ToGrpc(hosts.status());
  for (const ReachableHost& r : *hosts) {
    v1::MyHost h;
    h.set_name(r.host.name);
    h.set_address(r.host.address);
    h.set_port(r.host.port);
    for (const auto& [k, v] : r.host.labels) (*h.mutable_labels())[k] = v;
    for (const std::string& l : r.logins) h.add_logins(l);
    if (!page.Take(h)) break;
    *response->add_hosts() = std::move(h);
  }
  // A full page may have more after it (the next one can be empty).
  if (response->hosts_size() > 0 &&
      (response->hosts_size() < static_cast<int>(hosts->size()) ||
       hosts->size() == page.max_entries())) {
    response->set_next_page_token(
        response->hosts(response->hosts_size() - 1).name());
  }
  for (const base::HostPort& g : ctx_.gateway_ssh_addresses) {
    v1::GatewayAddress* a = response->add_gateways();
    a->set_host(g.host);
    a->set_port(g.port);
  }
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
