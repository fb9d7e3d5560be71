// Session ids (Proxy::NewSessionId): unique, of the documented shape, and
// not guessable from another one: a gateway that saw one id of another
// gateway could otherwise claim that gateway's next sessions at the CA
// first (the CA gives a session id to the first gateway that writes it).
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "gateway/proxy.h"
#include "gtest/gtest.h"

namespace sallyport::gateway {
namespace {

TEST(SessionIdTest, IdsAreUniqueAndTheirRandomPartIsNewEachTime) {
  Proxy proxy(ProxyOptions{});
  std::set<std::string> ids, random_parts;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = proxy.NewSessionId();
    ASSERT_EQ(id.size(), 23u) << id;
    ASSERT_EQ(id[0], 's') << id;
    for (char c : id.substr(1)) ASSERT_TRUE(absl::ascii_isxdigit(c)) << id;
    ids.insert(id);
    random_parts.insert(id.substr(1, 16));
  }
  EXPECT_EQ(ids.size(), 1000u);
  // 64 random bits each: a repeat among 1000 has odds of about 2^-44.
  EXPECT_EQ(random_parts.size(), 1000u);
}

TEST(SessionIdTest, TwoGatewaysDrawDifferentIds) {
  Proxy a(ProxyOptions{}), b(ProxyOptions{});
  EXPECT_NE(a.NewSessionId(), b.NewSessionId());
}

}  // namespace
}  // namespace sallyport::gateway
