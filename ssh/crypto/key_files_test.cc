#include "ssh/crypto/key_files.h"

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace sallyport::ssh::crypto {
namespace {

std::string Line(const PrivateKey& k, std::string_view comment = "") {
  return k.public_key().ToAuthorizedKeysLine(comment);
}

TEST(KeyFilesTest, ParsesAuthorizedKeysAndKnownHostsLines) {
  auto a = PrivateKey::GenerateEd25519();
  auto b = PrivateKey::GenerateEcdsaP256();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string text = "# comment\n\n" + Line(*a, "alice@host") +
                           "\n  @cert-authority,host " + Line(*b) + "\n";
  auto keys = ParsePublicKeys(text, "keys");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0], a->public_key());
  EXPECT_EQ((*keys)[1], b->public_key());
}

TEST(KeyFilesTest, RefusesKeyOptionsNamingTheLine) {
  auto a = PrivateKey::GenerateEd25519();
  ASSERT_TRUE(a.ok());
  const std::string text =
      Line(*a) + "\nfrom=\"10.0.0.1\",no-pty " + Line(*a) + " x\n";
  auto keys =
      ParsePublicKeys(text, "authorized_keys", KeyFileFormat::kAuthorizedKeys);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(keys.status().message().find("authorized_keys:2:"),
            std::string::npos)
      << keys.status();
}

TEST(KeyFilesTest, LoadPublicKeysReadsFilesAndWantsOneKey) {
  const std::string path = ::testing::TempDir() + "/key_files_test.pub";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("# nothing yet\n", f);
  fclose(f);
  EXPECT_EQ(LoadPublicKeys(path).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto empty = LoadPublicKeys(path, KeyFileFormat::kAuthorizedKeys,
                              /*require_one=*/false);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(LoadPublicKeys(path + ".missing").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sallyport::ssh::crypto
