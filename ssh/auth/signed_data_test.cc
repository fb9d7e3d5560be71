// ParseSignedData reads back what SignedData writes, and nothing else:
// every field at its limit parses, one byte more does not.
#include "ssh/auth/signed_data.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::auth {
namespace {

struct Fields {
  std::vector<uint8_t> session_id = std::vector<uint8_t>(32, 1);
  uint8_t message = 50;
  std::string user = "root+web01";
  std::string service = "ssh-connection";
  std::string method = "publickey";
  uint8_t flag = 1;
  std::string algorithm = "ssh-ed25519-cert-v01@openssh.com";
  std::vector<uint8_t> blob = std::vector<uint8_t>(100, 2);

  std::vector<uint8_t> Write() const {
    wire::Writer w;
    w.String(session_id)
        .Byte(message)
        .String(user)
        .String(service)
        .String(method)
        .Byte(flag)
        .String(algorithm)
        .String(blob);
    return w.Take();
  }
};

TEST(SignedDataTest, ReadsBackWhatSignedDataWrites) {
  const Fields f;
  const std::vector<uint8_t> data =
      SignedData(f.session_id, f.user, f.service, f.algorithm, f.blob);
  EXPECT_EQ(data, f.Write());
  absl::StatusOr<SignedUserauthRequest> r = ParseSignedData(data);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(std::vector<uint8_t>(r->session_id.begin(), r->session_id.end()),
            f.session_id);
  EXPECT_EQ(r->user, f.user);
  EXPECT_EQ(r->service, f.service);
  EXPECT_EQ(r->algorithm, f.algorithm);
  EXPECT_EQ(std::vector<uint8_t>(r->key_blob.begin(), r->key_blob.end()),
            f.blob);
}

TEST(SignedDataTest, EveryFieldAtItsLimitParsesAndOneByteMoreDoesNot) {
  Fields f;
  f.session_id.assign(kMaxSessionIdBytes, 1);
  f.user.assign(kMaxUserNameBytes, 'u');
  f.service.assign(kMaxServiceNameBytes, 's');
  f.algorithm.assign(kMaxKeyAlgorithmBytes, 'a');
  f.blob.assign(kMaxKeyBlobBytes, 2);
  const std::vector<uint8_t> at_limit = f.Write();
  EXPECT_EQ(at_limit.size(), kMaxSignedDataBytes);
  EXPECT_TRUE(ParseSignedData(at_limit).ok());
  for (int field = 0; field < 5; ++field) {
    Fields g = f;
    switch (field) {
      case 0:
        g.session_id.push_back(1);
        break;
      case 1:
        g.user.push_back('u');
        break;
      case 2:
        g.service.push_back('s');
        break;
      case 3:
        g.algorithm.push_back('a');
        break;
      case 4:
        g.blob.push_back(2);
        break;
    }
    EXPECT_EQ(ParseSignedData(g.Write()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "field " << field;
  }
}

TEST(SignedDataTest, RefusesWhatIsNotASignedPublickeyRequest) {
  auto refused = [](const Fields& f) {
    return ParseSignedData(f.Write()).status().code() ==
           absl::StatusCode::kInvalidArgument;
  };
  Fields f;
  f.session_id.clear();
  EXPECT_TRUE(refused(f));
  f = Fields();
  f.message = 51;
  EXPECT_TRUE(refused(f));
  f = Fields();
  f.method = "password";
  EXPECT_TRUE(refused(f));
  f = Fields();
  f.flag = 0;
  EXPECT_TRUE(refused(f));
  f = Fields();
  f.flag = 2;  // TRUE is written as 1
  EXPECT_TRUE(refused(f));
  f = Fields();
  f.user = std::string("root\0x", 6);
  EXPECT_TRUE(refused(f));
  f = Fields();
  f.blob.clear();
  EXPECT_TRUE(refused(f));
  std::vector<uint8_t> trailing = Fields().Write();
  trailing.push_back(0);
  EXPECT_FALSE(ParseSignedData(trailing).ok());
  const std::vector<uint8_t> good = Fields().Write();
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(ParseSignedData(absl::MakeConstSpan(good.data(), n)).ok())
        << n;
  }
}

}  // namespace
}  // namespace sallyport::ssh::auth
