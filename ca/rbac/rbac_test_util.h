// The inventory, roles and users the RBAC tests decide over.
#ifndef SALLYPORT_CA_RBAC_RBAC_TEST_UTIL_H_
#define SALLYPORT_CA_RBAC_RBAC_TEST_UTIL_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.h"

namespace sallyport::ca::rbac::testing {

// Hosts: web01 {env=prod, team=web}, web02 {env=staging, team=web},
// db01 {env=prod, team=db}, bastion-1 {}, build.lab {env=lab},
// Web03 {env=prod, team=web}.
const std::map<std::string, storage::Host>& Inventory();

// Roles:
//  web-dev   logins ubuntu, deploy; hosts [{team=web, env=staging}];
//            shell, exec, sftp; record never
//  web-prod  logins deploy; hosts [{env=prod, globs web*}]; exec; 1 h
//  ops       logins root, ubuntu; hosts [{globs *.lab, bastion-?},
//            {env=prod}]; every kind; deny [0] root on env=prod,
//            [1] agent-forward on db*
//  dba       logins postgres; hosts [{team=db}]; shell, port-forward
//  no-hosts  logins ubuntu; no host selectors; shell
//  auditor   logins ubuntu; hosts [{}] (every host); no kinds
//  freeze    no logins/hosts/kinds; deny [0] shell on env=prod
//  web-rec   logins ubuntu; hosts [{globs web0?}]; shell; record always
storage::Role RoleNamed(std::string_view name);
std::vector<storage::Role> Roles(const std::vector<std::string>& names);

storage::User UserNamed(std::string_view name, bool disabled = false);

std::optional<storage::Host> HostNamed(std::string_view name);

}  // namespace sallyport::ca::rbac::testing

#endif  // SALLYPORT_CA_RBAC_RBAC_TEST_UTIL_H_
