// The source-address list parser and matcher (our own CIDR code on top of
// inet_pton).
#include "ssh/cert/source_address.h"

#include "gtest/gtest.h"

namespace sallyport::ssh::cert {
namespace {

bool Matches(std::string_view list, std::string_view address) {
  auto r = SourceAddressMatches(list, address);
  EXPECT_TRUE(r.ok()) << list << " " << address << ": " << r.status();
  return r.ok() && *r;
}

TEST(SourceAddressTest, Ipv4Cidr) {
  EXPECT_TRUE(Matches("10.0.0.0/8", "10.255.1.2"));
  EXPECT_FALSE(Matches("10.0.0.0/8", "11.0.0.0"));
  EXPECT_TRUE(Matches("192.168.4.0/22", "192.168.7.255"));
  EXPECT_FALSE(Matches("192.168.4.0/22", "192.168.8.0"));
  EXPECT_FALSE(Matches("192.168.4.0/22", "192.168.3.255"));
  EXPECT_TRUE(Matches("127.0.0.1/32", "127.0.0.1"));
  EXPECT_FALSE(Matches("127.0.0.1/32", "127.0.0.2"));
  EXPECT_TRUE(Matches("127.0.0.1", "127.0.0.1"));
  EXPECT_TRUE(Matches("0.0.0.0/0", "203.0.113.9"));
  EXPECT_TRUE(Matches("10.0.0.128/25", "10.0.0.200"));
  EXPECT_FALSE(Matches("10.0.0.128/25", "10.0.0.127"));
}

TEST(SourceAddressTest, Ipv6Cidr) {
  EXPECT_TRUE(Matches("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(Matches("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(Matches("::1", "::1"));
  EXPECT_FALSE(Matches("::1/128", "::2"));
  EXPECT_TRUE(Matches("fe80::/10", "febf::1"));
  EXPECT_FALSE(Matches("fe80::/10", "fec0::1"));
  EXPECT_TRUE(Matches("2001:DB8::/33", "2001:db8:7fff::"));
  EXPECT_FALSE(Matches("2001:db8::/33", "2001:db8:8000::"));
  EXPECT_TRUE(Matches("::/0", "2001:db8::1"));
}

TEST(SourceAddressTest, FamiliesDoNotMix) {
  EXPECT_FALSE(Matches("0.0.0.0/0", "::1"));
  EXPECT_FALSE(Matches("::/0", "127.0.0.1"));
  // A v4-mapped peer on a dual-stack socket is matched as IPv4.
  EXPECT_TRUE(Matches("127.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_FALSE(Matches("::ffff:0:0/96", "127.0.0.1"));
}

TEST(SourceAddressTest, ListsMatchAnyEntry) {
  EXPECT_TRUE(Matches("10.0.0.0/8,192.0.2.1,::1", "::1"));
  EXPECT_TRUE(Matches("10.0.0.0/8,192.0.2.1,::1", "192.0.2.1"));
  EXPECT_FALSE(Matches("10.0.0.0/8,192.0.2.1,::1", "192.0.2.2"));
}

TEST(SourceAddressTest, BadListsAreRefused) {
  for (const char* list : {"",
                           ",",
                           "10.0.0.0/8,",
                           ",10.0.0.0/8",
                           "10.0.0.0/33",
                           "::/129",
                           "10.0.0.1/8",
                           "2001:db8::1/32",
                           "10.0.0.0/",
                           "10.0.0.0/-1",
                           "10.0.0.0/08x",
                           "10.0.0.0/0008",
                           "10.0.0.*",
                           "localhost",
                           "10.0.0.0 ",
                           " 10.0.0.0",
                           "!10.0.0.0/8",
                           "10.0.0.0/8/8",
                           "1.2.3",
                           "1.2.3.4.5",
                           "fe80::1%eth0",
                           "10.0.0.256"}) {
    EXPECT_FALSE(ParseSourceAddressList(list).ok()) << "\"" << list << "\"";
    EXPECT_FALSE(SourceAddressMatches(list, "10.0.0.1").ok()) << list;
  }
}

TEST(SourceAddressTest, BadPeerAddressIsAnError) {
  for (const char* peer :
       {"", "localhost", "10.0.0.1:22", "fe80::1%eth0", "10.0.0.1/32"}) {
    EXPECT_FALSE(SourceAddressMatches("0.0.0.0/0,::/0", peer).ok()) << peer;
  }
}

TEST(SourceAddressTest, ParsedNetworks) {
  auto n = ParseIpNetwork("192.0.2.0/24");
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->ipv6);
  EXPECT_EQ(n->prefix_length, 24);
  EXPECT_EQ(n->address[0], 192);
  EXPECT_EQ(n->address[2], 2);
  n = ParseIpNetwork("2001:db8::");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->ipv6);
  EXPECT_EQ(n->prefix_length, 128);
}

}  // namespace
}  // namespace sallyport::ssh::cert
