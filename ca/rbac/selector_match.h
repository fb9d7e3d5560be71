// A role's host selector against one host, over whichever map and list
// types hold them: the CA's storage records (selector.h) and spctl's API
// messages (the warning for a role that selects no host). One rule, so
// the two never disagree.
#ifndef SALLYPORT_CA_RBAC_SELECTOR_MATCH_H_
#define SALLYPORT_CA_RBAC_SELECTOR_MATCH_H_

#include <string_view>

#include "ca/rbac/names.h"

namespace sallyport::ca::rbac {

// True when every one of `labels` is in `host_labels` with the same value
// and, if `name_globs` is not empty, `host_name` matches at least one of
// them (GlobMatch). No labels and no globs match every host.
template <typename Labels, typename Globs, typename HostLabels>
bool SelectorMatchesParts(const Labels& labels, const Globs& name_globs,
                          std::string_view host_name,
                          const HostLabels& host_labels) {
  for (const auto& [key, value] : labels) {
    auto it = host_labels.find(key);
    if (it == host_labels.end() || it->second != value) return false;
  }
  if (name_globs.empty()) return true;
  for (const auto& glob : name_globs) {
    if (GlobMatch(glob, host_name)) return true;
  }
  return false;
}

}  // namespace sallyport::ca::rbac

#endif  // SALLYPORT_CA_RBAC_SELECTOR_MATCH_H_
