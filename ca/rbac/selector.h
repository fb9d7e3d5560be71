// Host selector matching for the RBAC engine (DESIGN.md §6): a role's
// selector (labels and name globs) against an inventory record.
#ifndef SALLYPORT_CA_RBAC_SELECTOR_H_
#define SALLYPORT_CA_RBAC_SELECTOR_H_

#include "storage/records.h"

namespace sallyport::ca::rbac {

// True when every label of `selector` is on `host` with the same value and,
// if the selector has name globs, `host.name` matches at least one of them
// (GlobMatch, names.h). A selector with no labels and no globs matches
// every host.
bool SelectorMatches(const storage::HostSelector& selector,
                     const storage::Host& host);

}  // namespace sallyport::ca::rbac

#endif  // SALLYPORT_CA_RBAC_SELECTOR_H_
