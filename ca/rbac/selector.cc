#include "ca/rbac/selector.h"

#include "ca/rbac/selector_match.h"

namespace sallyport::ca::rbac {

bool SelectorMatches(const storage::HostSelector& selector,
                     const storage::Host& host) {
  return SelectorMatchesParts(selector.labels, selector.name_globs, host.name,
                              host.labels);
}

}  // namespace sallyport::ca::rbac
