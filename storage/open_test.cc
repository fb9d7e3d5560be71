// OpenStore picks the backend from the URL scheme.
#include "storage/open.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::storage {
namespace {

TEST(OpenStoreTest, SqliteUrlWithAbsolutePath) {
  auto dir = testing::TempDir::Create("sp-open");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir->File("state.db");
  base::FakeClock clock;
  auto store = OpenStore("sqlite://" + path, OpenOptions{&clock, 2});
  ASSERT_TRUE(store.ok()) << store.status();
  auto user = (*store)->CreateUser(User{"alice", "", false, {}, {}});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->created_at, clock.Now());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(OpenStoreTest, BadUrlsAreInvalidArgument) {
  for (const char* url : {"", "sqlite://", "sqlite://relative/path.db",
                          "sqlite:/x.db", "mysql://root@localhost/db",
                          "SQLITE:///x.db", "/var/lib/x.db", "postgres:/x"}) {
    EXPECT_EQ(OpenStore(url).status().code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
}

TEST(OpenStoreTest, PostgresUrlsGoToLibpq) {
  // Nothing listens on this port: the PostgreSQL backend reports the server
  // unavailable (which proves the URL reached libpq) without echoing the
  // password from the URL.
  auto port = testing::FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  for (const char* scheme : {"postgres", "postgresql"}) {
    const std::string url =
        absl::StrCat(scheme, "://sp:hunter2@127.0.0.1:", *port,
                     "/sallyport?sslmode=disable");
    auto store = OpenStore(url);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable)
        << store.status();
    EXPECT_EQ(store.status().message().find("hunter2"), absl::string_view::npos)
        << store.status();
    EXPECT_NE(store.status().message().find("127.0.0.1"),
              absl::string_view::npos)
        << store.status();
  }
}

}  // namespace
}  // namespace sallyport::storage
