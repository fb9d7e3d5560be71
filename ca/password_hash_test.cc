#include "ca/password_hash.h"

#include "absl/strings/match.h"
#include "base/secret_bytes.h"
#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

using base::SecretBytes;

// The smallest allowed cost keeps the tests fast; the format and code
// paths are the same as for the default.
ScryptParams FastParams() { return ScryptParams{.log_n = 10, .r = 8, .p = 1}; }

std::unique_ptr<PasswordHasher> MakeHasher() {
  auto hasher = PasswordHasher::Create(FastParams());
  EXPECT_TRUE(hasher.ok()) << hasher.status();
  return std::move(*hasher);
}

TEST(PasswordHashTest, HashThenVerify) {
  auto hasher = MakeHasher();
  auto hash = hasher->Hash(SecretBytes::FromString("correct horse"));
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(absl::StartsWith(*hash, "$scrypt$ln=10,r=8,p=1$")) << *hash;
  EXPECT_TRUE(hasher->Verify(SecretBytes::FromString("correct horse"), *hash));
  EXPECT_FALSE(hasher->Verify(SecretBytes::FromString("correct hors"), *hash));
  EXPECT_FALSE(hasher->Verify(SecretBytes::FromString("Correct horse"), *hash));
}

TEST(PasswordHashTest, EachHashHasItsOwnSalt) {
  auto hasher = MakeHasher();
  auto a = hasher->Hash(SecretBytes::FromString("pw"));
  auto b = hasher->Hash(SecretBytes::FromString("pw"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  auto pa = ParsePasswordHash(*a);
  ASSERT_TRUE(pa.ok());
  EXPECT_EQ(pa->salt.size(), 16u);
  EXPECT_EQ(pa->hash.size(), 32u);
}

TEST(PasswordHashTest, VerifiesWithTheParametersInTheHash) {
  auto strong = PasswordHasher::Create({.log_n = 11, .r = 8, .p = 2});
  ASSERT_TRUE(strong.ok());
  auto hash = (*strong)->Hash(SecretBytes::FromString("pw"));
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(MakeHasher()->Verify(SecretBytes::FromString("pw"), *hash));
}

TEST(PasswordHashTest, EmptyPasswordNeverAuthenticates) {
  auto hasher = MakeHasher();
  EXPECT_FALSE(hasher->Hash(SecretBytes()).ok());
  // Even against a hash that an attacker managed to compute for "".
  auto hash = hasher->Hash(SecretBytes::FromString("x"));
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(hasher->Verify(SecretBytes(), *hash));
}

TEST(PasswordHashTest, EveryFailurePathDoesOneDerivation) {
  auto hasher = MakeHasher();
  auto hash = hasher->Hash(SecretBytes::FromString("pw"));
  ASSERT_TRUE(hash.ok());
  const SecretBytes wrong = SecretBytes::FromString("wrong");
  struct Case {
    const char* name;
    std::optional<std::string_view> encoded;
    SecretBytes password;
  };
  std::vector<Case> cases;
  cases.push_back({"wrong password", *hash, wrong});
  cases.push_back({"unknown user", std::nullopt, wrong});
  cases.push_back({"no password set", std::string_view(), wrong});
  cases.push_back({"malformed hash", std::string_view("$scrypt$x"), wrong});
  cases.push_back({"empty password", *hash, SecretBytes()});
  for (const Case& c : cases) {
    const int64_t before = hasher->verify_derivations();
    EXPECT_FALSE(hasher->Verify(c.password, c.encoded)) << c.name;
    EXPECT_EQ(hasher->verify_derivations(), before + 1) << c.name;
  }
}

TEST(PasswordHashTest, ParseRefusesMalformedAndExpensiveHashes) {
  const char* bad[] = {
      "",
      "scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=10,r=999,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=10,r=8$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=10,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",  // short salt
      "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaA",        // short hash
      "$scrypt$ln=10,r=8,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
      "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA$",
  };
  for (const char* s : bad) {
    EXPECT_FALSE(ParsePasswordHash(s).ok()) << s;
  }
  EXPECT_TRUE(
      ParsePasswordHash(
          "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA")
          .ok());
}

TEST(PasswordHashTest, CreateRefusesBadParameters) {
  EXPECT_FALSE(PasswordHasher::Create({.log_n = 9, .r = 8, .p = 1}).ok());
  EXPECT_FALSE(PasswordHasher::Create({.log_n = 21, .r = 8, .p = 1}).ok());
  EXPECT_FALSE(PasswordHasher::Create({.log_n = 10, .r = 0, .p = 1}).ok());
}

// The policy for a password being set: 8..1024 bytes of UTF-8 text without
// control characters, not only spaces (spctl took "short", "   " and a
// control character).
TEST(CheckNewPasswordTest, LengthTextAndNotOnlySpaces) {
  EXPECT_TRUE(CheckNewPassword("frank-pw").ok());
  EXPECT_TRUE(CheckNewPassword("correct horse battery").ok());
  EXPECT_TRUE(CheckNewPassword("p\xc3\xa4sswort!").ok());
  // A password is never shown: invisible and bidirectional characters
  // (a ZWJ emoji sequence, RLO) are taken, only controls are not.
  EXPECT_TRUE(CheckNewPassword("\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb"
                               " and \xe2\x80\xae-rlo")
                  .ok());
  EXPECT_TRUE(CheckNewPassword(std::string(kMaxPasswordBytes, 'x')).ok());
  for (const std::string& bad :
       {std::string("k3y!"), std::string(8, ' '),
        std::string("abc\x01"
                    "defgh"),
        std::string("abcdefgh\xc2\x9b"), std::string("abcdefg\xff"),
        std::string(kMaxPasswordBytes + 1, 'x')}) {
    const absl::Status st = CheckNewPassword(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad.size();
    EXPECT_EQ(st.message().find(bad), std::string::npos);
  }
}

}  // namespace
}  // namespace sallyport::ca
