// The fixture of the `spctl users / roles / bindings` E2E tests
// (spctl_users_e2e_test.cc: users, bindings, logins and errors;
// spctl_roles_e2e_test.cc: role files): a CA (SpctlTestBase), the
// principals of a user's certificate, and a role file to create.
#ifndef SALLYPORT_TESTS_E2E_SPCTL_USERS_E2E_FIXTURE_H_
#define SALLYPORT_TESTS_E2E_SPCTL_USERS_E2E_FIXTURE_H_

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {

class SpctlUsersTest : public SpctlTestBase {
 protected:
  // The principals of `user`'s certificate as ssh-keygen -L prints them.
  std::string Principals(const std::string& user) {
    auto r = sallyport::testing::RunCommandOk(
        {"ssh-keygen", "-L", "-f", env_->CertPath(user)});
    if (!r.ok()) return "";
    std::smatch m;
    static const std::regex kPrincipals(R"(Principals: \n((?:\s+\S+\n)+))");
    if (!std::regex_search(r->out, m, kPrincipals)) return "";
    std::vector<std::string> names =
        absl::StrSplit(m[1].str(), absl::ByAnyChar(" \n"), absl::SkipEmpty());
    return absl::StrJoin(names, ",");
  }
};

// A role `dev`: logins ubuntu and deploy on hosts labelled env=dev or named
// web*, shell and exec, certificates of at most 4 h.
inline constexpr char kDevRole[] = R"(name: dev
description: developers
logins: [ubuntu, deploy]
hosts:
  - labels: {env: dev}
  - name_globs: ["web*"]
channels: [shell, exec]
max_ttl: 4h
)";

}  // namespace sallyport::e2e

#endif  // SALLYPORT_TESTS_E2E_SPCTL_USERS_E2E_FIXTURE_H_
