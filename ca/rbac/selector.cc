#include "ca/rbac/selector.h"

#include <string>

#include "ca/rbac/names.h"

namespace sallyport::ca::rbac {

bool SelectorMatches(const storage::HostSelector& selector,
                     const storage::Host& host) {
  for (const auto& [key, value] : selector.labels) {
    auto it = host.labels.find(key);
    if (it == host.labels.end() || it->second != value) return false;
  }
  if (selector.name_globs.empty()) return true;
  for (const std::string& glob : selector.name_globs) {
    if (GlobMatch(glob, host.name)) return true;
  }
  return false;
}

}  // namespace sallyport::ca::rbac
