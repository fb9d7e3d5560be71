// mlkem768x25519-sha256 between two transports in memory: negotiation and
// preference, every cipher, rekeying, and the refusals of a malformed
// C_INIT / S_REPLY (wrong length, ML-KEM key with a coefficient >= q,
// corrupted ciphertext, low-order X25519 value).
#include <functional>
#include <string>

#include "gtest/gtest.h"
#include "ssh/transport/kex.h"
#include "ssh/transport/kex_agreement.h"
#include "ssh/transport/packet_codec.h"
#include "ssh/transport/test_peers.h"
#include "ssh/transport/transport.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {
namespace {

using Rewrite = std::function<std::vector<uint8_t>(std::vector<uint8_t>)>;

uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}

// Rewrites the payload of the plaintext packet of type `type` in a chunk of
// the initial key exchange (after an optional version line, up to NEWKEYS;
// later packets are copied as they are). Sets *found when it saw it.
void RewritePacket(std::vector<uint8_t>& bytes, uint8_t type,
                   const Rewrite& rewrite, bool* found) {
  size_t pos = 0;
  if (bytes.size() >= 4 && std::equal(bytes.begin(), bytes.begin() + 4,
                                      std::string_view("SSH-").begin())) {
    pos = std::find(bytes.begin(), bytes.end(), '\n') - bytes.begin() + 1;
  }
  std::vector<uint8_t> out(bytes.begin(), bytes.begin() + pos);
  PacketEncoder encoder;
  while (pos + 5 <= bytes.size()) {
    const size_t len = Be32(&bytes[pos]);
    if (pos + 4 + len > bytes.size()) break;
    const size_t pad = bytes[pos + 4];
    std::vector<uint8_t> payload(bytes.begin() + pos + 5,
                                 bytes.begin() + pos + 4 + len - pad);
    const bool newkeys = !payload.empty() && payload[0] == kMsgNewKeys;
    if (!payload.empty() && payload[0] == type) {
      *found = true;
      encoder.Encode(rewrite(payload), &out);
    } else {
      out.insert(out.end(), bytes.begin() + pos, bytes.begin() + pos + 4 + len);
    }
    pos += 4 + len;
    if (newkeys) break;
  }
  out.insert(out.end(), bytes.begin() + pos, bytes.end());
  bytes = std::move(out);
}

// C_INIT payload: byte 30, string Q_C.
Rewrite RewriteClientValue(std::function<void(std::vector<uint8_t>&)> edit) {
  return [edit](std::vector<uint8_t> payload) {
    wire::Reader r(absl::MakeConstSpan(payload).subspan(1));
    auto q_c = r.ReadString(1 << 16);
    EXPECT_TRUE(q_c.ok());
    std::vector<uint8_t> value(q_c->begin(), q_c->end());
    edit(value);
    wire::Writer w;
    w.Byte(kMsgKexEcdhInit).String(value);
    return w.Take();
  };
}

// S_REPLY payload: byte 31, string K_S, string Q_S, string signature.
Rewrite RewriteServerValue(std::function<void(std::vector<uint8_t>&)> edit) {
  return [edit](std::vector<uint8_t> payload) {
    wire::Reader r(absl::MakeConstSpan(payload).subspan(1));
    auto k_s = r.ReadString(1 << 16);
    auto q_s = r.ReadString(1 << 16);
    auto sig = r.ReadString(1 << 16);
    EXPECT_TRUE(k_s.ok() && q_s.ok() && sig.ok());
    std::vector<uint8_t> value(q_s->begin(), q_s->end());
    edit(value);
    wire::Writer w;
    w.Byte(kMsgKexEcdhReply).String(*k_s).String(value).String(*sig);
    return w.Take();
  };
}

TEST(HybridKexTest, IsPreferredFirstAndNegotiatedByDefault) {
  ASSERT_FALSE(SupportedKexAlgorithms().empty());
  EXPECT_EQ(SupportedKexAlgorithms()[0], "mlkem768x25519-sha256");
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  ASSERT_EQ(peers->server->phase(), Phase::kAuthenticated)
      << peers->server->close_status() << peers->client->close_status();
  EXPECT_EQ(peers->client->algorithms().kex, "mlkem768x25519-sha256");
  EXPECT_EQ(peers->server->algorithms().kex, "mlkem768x25519-sha256");
  EXPECT_TRUE(peers->client->strict_kex());
  EXPECT_TRUE(peers->server->strict_kex());
  EXPECT_EQ(peers->client->session_id(), peers->server->session_id());
  EXPECT_EQ(peers->client->session_id().size(), 32u);  // SHA-256
}

TEST(HybridKexTest, ClientOrderDecidesAndOlderPeersGetCurve25519) {
  // A client that prefers curve25519 gets it from our server...
  auto a = TestPeers::Create([](TransportOptions& c, TransportOptions&) {
    c.kex_algorithms = {"curve25519-sha256", "mlkem768x25519-sha256"};
  });
  a->Pump();
  ASSERT_TRUE(a->server->handshake_done()) << a->server->close_status();
  EXPECT_EQ(a->server->algorithms().kex, "curve25519-sha256");
  // ...and a server without the hybrid gives our default client curve25519.
  auto b = TestPeers::Create([](TransportOptions&, TransportOptions& s) {
    s.kex_algorithms = {"curve25519-sha256", "ecdh-sha2-nistp256"};
  });
  b->Pump();
  ASSERT_TRUE(b->client->handshake_done()) << b->client->close_status();
  EXPECT_EQ(b->client->algorithms().kex, "curve25519-sha256");
}

TEST(HybridKexTest, CompletesWithEachCipherAndRekeysRepeatedly) {
  for (std::string cipher :
       {"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com", "aes256-ctr", "aes128-ctr"}) {
    auto peers = TestPeers::Create([&](TransportOptions& c, TransportOptions&) {
      c.ciphers = {cipher};
      c.kex_algorithms = {kMlKem768X25519};
    });
    peers->Pump();
    peers->Authenticate();
    ASSERT_EQ(peers->server->phase(), Phase::kAuthenticated)
        << cipher << peers->server->close_status();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(peers->client->StartRekey().ok());
      peers->Pump();
    }
    EXPECT_EQ(peers->client->kex_count(), 4) << cipher;
    EXPECT_EQ(peers->server->algorithms().kex, kMlKem768X25519);
    wire::Writer req;
    req.Byte(94).Uint32(1).String("after rekeys");
    ASSERT_TRUE(peers->client->Send(req.data()).ok());
    peers->Pump();
    ASSERT_FALSE(peers->server_received.empty());
    EXPECT_EQ(peers->server_received.back(), req.data()) << cipher;
  }
}

TEST(HybridKexTest, ManyHandshakesAgree) {
  for (int i = 0; i < 200; ++i) {
    auto peers = TestPeers::Create([](TransportOptions& c, TransportOptions&) {
      c.kex_algorithms = {kMlKem768X25519};
    });
    peers->Pump();
    ASSERT_TRUE(peers->server->handshake_done() &&
                peers->client->handshake_done())
        << i << ": " << peers->server->close_status()
        << peers->client->close_status();
  }
}

// Runs a handshake whose C_INIT (to_server) or S_REPLY is edited and returns
// the side that received it, which must have closed.
std::unique_ptr<TestPeers> TamperedHandshake(
    bool to_server, std::function<void(std::vector<uint8_t>&)> edit) {
  auto peers = TestPeers::Create([](TransportOptions& c, TransportOptions&) {
    c.kex_algorithms = {kMlKem768X25519};
  });
  bool found = false;
  peers->tamper = [&](bool dir, std::vector<uint8_t>& bytes) {
    if (dir != to_server || found) return;
    RewritePacket(
        bytes, to_server ? kMsgKexEcdhInit : kMsgKexEcdhReply,
        to_server ? RewriteClientValue(edit) : RewriteServerValue(edit),
        &found);
  };
  peers->Pump();
  EXPECT_TRUE(found);
  return peers;
}

void ExpectClosedWith(Transport& t, const char* text) {
  EXPECT_TRUE(t.closed());
  EXPECT_FALSE(t.handshake_done());
  EXPECT_NE(t.close_status().message().find(text), std::string::npos)
      << t.close_status();
}

TEST(HybridKexTest, ServerRefusesClientInitOfWrongLength) {
  for (int delta : {-1, 1, -1216}) {
    auto peers = TamperedHandshake(true, [&](std::vector<uint8_t>& v) {
      if (delta > 0) v.push_back(0);
      if (delta < 0) v.resize(v.size() + delta);
    });
    ExpectClosedWith(*peers->server, delta == 1 ? "exceeds the limit of 1216"
                                                : "expected 1216");
  }
}

TEST(HybridKexTest, ServerRefusesEncapsulationKeyWithCoefficientAtLeastQ) {
  // The first coefficient (12 bits, little-endian) set to q = 3329 = 0xd01.
  auto peers = TamperedHandshake(true, [](std::vector<uint8_t>& v) {
    v[0] = 0x01;
    v[1] = static_cast<uint8_t>((v[1] & 0xf0) | 0x0d);
  });
  ExpectClosedWith(*peers->server, ">= q");
}

TEST(HybridKexTest, ServerRefusesLowOrderX25519Value) {
  auto peers = TamperedHandshake(true, [](std::vector<uint8_t>& v) {
    std::fill(v.end() - 32, v.end(), 0);  // the identity: shared secret 0
  });
  ExpectClosedWith(*peers->server, "key agreement failed");
}

TEST(HybridKexTest, ClientRefusesServerReplyOfWrongLength) {
  for (int delta : {-1, 1, -1120}) {
    auto peers = TamperedHandshake(false, [&](std::vector<uint8_t>& v) {
      if (delta > 0) v.push_back(0);
      if (delta < 0) v.resize(v.size() + delta);
    });
    ExpectClosedWith(*peers->client, delta == 1 ? "exceeds the limit of 1120"
                                                : "expected 1120");
  }
}

TEST(HybridKexTest, CorruptedCiphertextFailsTheHostSignature) {
  // Implicit rejection: the client derives a different K, so the server's
  // signature over the exchange hash does not verify.
  for (size_t offset : {size_t{0}, size_t{500}, size_t{1087}}) {
    auto peers = TamperedHandshake(
        false, [&](std::vector<uint8_t>& v) { v[offset] ^= 0x04; });
    ExpectClosedWith(*peers->client, "signature over the exchange hash");
  }
}

}  // namespace
}  // namespace sallyport::ssh::transport
