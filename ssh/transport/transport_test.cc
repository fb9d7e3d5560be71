// Two transports in memory: handshake, algorithms, rekeying, sending
// (two-part, in place, queued during a key exchange) and zero-copy input.
// The rules a hostile peer must not get past are in
// transport_refusal_test.cc.
#include "ssh/transport/transport.h"

#include <string>
#include <tuple>

#include "gtest/gtest.h"
#include "ssh/transport/test_peers.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {
namespace {

class HandshakeTest
    : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(HandshakeTest, CompletesWithEachCipherAndKex) {
  const auto& [cipher, kex] = GetParam();
  auto peers = TestPeers::Create([&](TransportOptions& c, TransportOptions&) {
    c.ciphers = {cipher};
    c.kex_algorithms = {kex};
  });
  peers->Pump();
  ASSERT_FALSE(peers->client->closed()) << peers->client->close_status();
  ASSERT_FALSE(peers->server->closed()) << peers->server->close_status();
  EXPECT_TRUE(peers->client->handshake_done());
  EXPECT_TRUE(peers->server->handshake_done());
  EXPECT_EQ(peers->client->algorithms().cipher_c2s, cipher);
  EXPECT_EQ(peers->server->algorithms().cipher_s2c, cipher);
  EXPECT_EQ(peers->client->algorithms().kex, kex);
  EXPECT_EQ(peers->client->algorithms().host_key, "ssh-ed25519");
  EXPECT_TRUE(peers->client->strict_kex());
  EXPECT_TRUE(peers->server->strict_kex());
  EXPECT_EQ(peers->client->session_id(), peers->server->session_id());
  EXPECT_EQ(peers->client->session_id().size(), 32u);
  // EXT_INFO reached the client and never offers SHA-1 RSA.
  const auto& algs = peers->client->server_sig_algs();
  EXPECT_NE(std::find(algs.begin(), algs.end(), "ssh-ed25519"), algs.end());
  EXPECT_EQ(std::find(algs.begin(), algs.end(), "ssh-rsa"), algs.end());

  // An encrypted service request goes through.
  wire::Writer req;
  req.Byte(kMsgServiceRequest).String("ssh-userauth");
  ASSERT_TRUE(peers->client->Send(req.data()).ok());
  peers->Pump();
  ASSERT_EQ(peers->server_received.size(), 1u);
  EXPECT_EQ(peers->server_received[0], req.data());
}

INSTANTIATE_TEST_SUITE_P(
    AllCombinations, HandshakeTest,
    ::testing::Combine(::testing::Values("chacha20-poly1305@openssh.com",
                                         "aes256-gcm@openssh.com",
                                         "aes128-gcm@openssh.com", "aes256-ctr",
                                         "aes128-ctr"),
                       ::testing::Values("curve25519-sha256",
                                         "curve25519-sha256@libssh.org",
                                         "ecdh-sha2-nistp256")));

TEST(TransportTest, EtmMacsNegotiate) {
  for (std::string mac :
       {"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"}) {
    auto peers = TestPeers::Create([&](TransportOptions& c, TransportOptions&) {
      c.ciphers = {"aes128-ctr"};
      c.macs = {mac};
    });
    peers->Pump();
    peers->Authenticate();
    ASSERT_FALSE(peers->server->closed()) << peers->server->close_status();
    EXPECT_EQ(peers->server->algorithms().mac_c2s, mac);
    EXPECT_EQ(peers->server->phase(), Phase::kAuthenticated);
  }
}

TEST(TransportTest, HandshakesRepeatedlyWithFreshKeys) {
  // The mpint encoding of K fails on a fraction of secrets if it is wrong:
  // many handshakes catch it.
  for (int i = 0; i < 300; ++i) {
    auto peers = TestPeers::Create([&](TransportOptions& c, TransportOptions&) {
      c.kex_algorithms = {i % 2 ? "curve25519-sha256" : "ecdh-sha2-nistp256"};
    });
    peers->Pump();
    peers->Authenticate();
    ASSERT_EQ(peers->server->phase(), Phase::kAuthenticated)
        << i << ": " << peers->server->close_status()
        << peers->client->close_status();
  }
}

TEST(TransportTest, NoCommonCipherFailsClearly) {
  auto peers = TestPeers::Create([](TransportOptions& c, TransportOptions& s) {
    c.ciphers = {"aes128-ctr"};
    s.ciphers = {"chacha20-poly1305@openssh.com"};
  });
  peers->Pump();
  EXPECT_TRUE(peers->server->closed());
  EXPECT_NE(peers->server->close_status().message().find("cipher"),
            std::string::npos)
      << peers->server->close_status();
}

TEST(TransportTest, UnpinnedHostKeyIsRefused) {
  auto other = crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(other.ok());
  auto peers = TestPeers::Create([&](TransportOptions& c, TransportOptions&) {
    c.host_key_policy = std::make_shared<PinnedHostKeyPolicy>(
        std::vector<crypto::PublicKey>{other->public_key()});
  });
  peers->Pump();
  EXPECT_TRUE(peers->client->closed());
  EXPECT_EQ(peers->client->close_status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(peers->client->handshake_done());
}

TEST(TransportTest, RekeysStartedByEachSideKeepEveryByteInOrder) {
  auto peers = TestPeers::Create([](TransportOptions& c, TransportOptions& s) {
    c.rekey_bytes = 256 << 10;  // the client rekeys by volume
    s.rekey_bytes = 64 << 20;   // the server only when told to
  });
  peers->Pump();
  peers->Authenticate();
  ASSERT_EQ(peers->client->phase(), Phase::kAuthenticated);
  peers->client_received.clear();
  peers->server_received.clear();
  constexpr uint32_t kMessages = 400;
  for (uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(peers->client->Send(CountedDataMessage(i, 10000 + i)).ok());
    ASSERT_TRUE(peers->server->Send(CountedDataMessage(i, 9000 + i)).ok());
    if (i == 100) {
      ASSERT_TRUE(peers->client->StartRekey().ok());
    }
    if (i == 200 || i == 300) {
      ASSERT_TRUE(peers->server->StartRekey().ok());
    }
    if (i % 7 == 0) peers->Pump();
  }
  peers->Pump();
  ASSERT_FALSE(peers->client->closed()) << peers->client->close_status();
  ASSERT_FALSE(peers->server->closed()) << peers->server->close_status();
  ASSERT_EQ(peers->server_received.size(), kMessages);
  ASSERT_EQ(peers->client_received.size(), kMessages);
  for (uint32_t i = 0; i < kMessages; ++i) {
    EXPECT_EQ(peers->server_received[i], CountedDataMessage(i, 10000 + i)) << i;
    EXPECT_EQ(peers->client_received[i], CountedDataMessage(i, 9000 + i)) << i;
  }
  // ~4 MB each way with 200-256 KiB limits: many rekeys, started by both.
  EXPECT_GE(peers->client->our_initiated_rekeys(), 2);
  EXPECT_GE(peers->server->our_initiated_rekeys(), 2);
  EXPECT_GE(peers->client->peer_initiated_rekeys(), 2);
  EXPECT_GE(peers->server->peer_initiated_rekeys(), 2);
  EXPECT_EQ(peers->client->kex_count(), peers->server->kex_count());
  EXPECT_GE(peers->client->kex_count(), 5);
}

TEST(TransportTest, RekeyByTime) {
  auto peers = TestPeers::Create([](TransportOptions& c, TransportOptions&) {
    c.rekey_interval = absl::Minutes(10);
  });
  peers->Pump();
  peers->Authenticate();
  EXPECT_EQ(peers->client->kex_count(), 1);
  EXPECT_EQ(peers->client->NextDeadline(),
            peers->clock->Now() + absl::Minutes(10));
  peers->clock->Advance(absl::Minutes(11));
  peers->client->OnTimer();
  peers->Pump();
  EXPECT_EQ(peers->client->kex_count(), 2);
  EXPECT_EQ(peers->server->kex_count(), 2);
  EXPECT_FALSE(peers->client->closed());
}

TEST(TransportTest, PeerRekeyBeforeAuthenticationDisconnects) {
  auto peers = TestPeers::Create();
  peers->Pump();
  // Only possible for a misbehaving client: force a KEXINIT through Send.
  KexInitMsg m;
  m.kex_algorithms = {"curve25519-sha256"};
  m.server_host_key_algorithms = {"ssh-ed25519"};
  m.encryption_c2s = m.encryption_s2c = {"aes128-gcm@openssh.com"};
  m.compression_c2s = m.compression_s2c = {"none"};
  ASSERT_TRUE(peers->client->Send(m.Serialize()).ok());
  peers->Pump();
  EXPECT_TRUE(peers->server->closed());
  EXPECT_NE(
      peers->server->close_status().message().find("before authentication"),
      std::string::npos);
}

TEST(TransportTest, RekeyVolumeLimitBeforeAuthenticationDisconnects) {
  auto peers = TestPeers::Create(
      [](TransportOptions&, TransportOptions& s) { s.rekey_bytes = 4096; });
  peers->Pump();
  wire::Writer req;
  req.Byte(kMsgServiceRequest).String(std::string(6000, 'x'));
  ASSERT_TRUE(peers->client->Send(req.data()).ok());
  peers->Pump();
  EXPECT_TRUE(peers->server->closed());
  EXPECT_EQ(peers->server->close_status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(TransportTest, SendThatFailsTheConnectionReturnsTheError) {
  // Our own output reaching the rekey limit before authentication ends the
  // connection; Send (and SendInPlace) must say so, not return OK.
  for (bool in_place : {false, true}) {
    auto peers = TestPeers::Create(
        [](TransportOptions&, TransportOptions& s) { s.rekey_bytes = 4096; });
    peers->Pump();
    ASSERT_TRUE(peers->server->handshake_done());
    absl::Status s;
    if (in_place) {
      s = peers->server
              ->SendInPlace(
                  1, 1000, 6000,
                  [](absl::Span<const absl::Span<uint8_t>> slots) -> size_t {
                    size_t n = 0;
                    for (auto slot : slots) {
                      std::fill(slot.begin(), slot.end(), 0);
                      n += slot.size();
                    }
                    return n;
                  },
                  [](absl::Span<uint8_t> head, size_t) {
                    head[0] = kMsgIgnore;
                  })
              .status();
    } else {
      wire::Writer ignore;
      ignore.Byte(kMsgIgnore).String(std::string(6000, 'x'));
      s = peers->server->Send(ignore.data());
    }
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << in_place;
    EXPECT_TRUE(peers->server->closed());
    EXPECT_EQ(peers->server->Send(std::vector<uint8_t>{kMsgIgnore}).code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

TEST(TransportTest, TwoPartSendArrivesWholeAlsoWhenQueuedDuringKex) {
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  peers->server_received.clear();
  const std::vector<uint8_t> message = CountedDataMessage(7, 20000);
  const auto head = absl::MakeConstSpan(message).subspan(0, 9);
  const auto tail = absl::MakeConstSpan(message).subspan(9);
  ASSERT_TRUE(peers->client->Send(head, tail).ok());
  // During a key exchange the message is queued (copied whole) and sent
  // after NEWKEYS.
  ASSERT_TRUE(peers->client->StartRekey().ok());
  ASSERT_TRUE(peers->client->Send(head, tail).ok());
  ASSERT_TRUE(peers->client->Send({}, message).ok());
  EXPECT_EQ(peers->client->Send({}, {}).code(),
            absl::StatusCode::kInvalidArgument);
  peers->Pump();
  ASSERT_FALSE(peers->client->closed()) << peers->client->close_status();
  ASSERT_EQ(peers->server_received.size(), 3u);
  for (const auto& m : peers->server_received) EXPECT_EQ(m, message);
  EXPECT_EQ(peers->client->kex_count(), 2);
}

// What SendInPlace's fill sees and writes: the slot sizes, then `n` bytes
// of a counting pattern from the first slot on.
struct InPlaceFill {
  size_t n;
  std::vector<size_t> slot_sizes;
  size_t operator()(absl::Span<const absl::Span<uint8_t>> slots) {
    size_t left = n, value = 0;
    for (auto slot : slots) {
      slot_sizes.push_back(slot.size());
      const size_t k = std::min(left, slot.size());
      for (size_t i = 0; i < k; ++i)
        slot[i] = static_cast<uint8_t>(value++ % 251);
      left -= k;
    }
    return n - left;
  }
};

// The messages SendInPlace with InPlaceFill{n} and 1000-byte messages must
// produce: a 3-byte head {94, index, size / 256} and the pattern.
std::vector<std::vector<uint8_t>> InPlaceMessages(size_t n) {
  std::vector<std::vector<uint8_t>> out;
  for (size_t at = 0; at < n; at += 1000) {
    const size_t k = std::min<size_t>(1000, n - at);
    std::vector<uint8_t> m = {94, static_cast<uint8_t>(at / 1000),
                              static_cast<uint8_t>(k / 256)};
    for (size_t i = 0; i < k; ++i)
      m.push_back(static_cast<uint8_t>((at + i) % 251));
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<size_t> SendInPlacePattern(Transport& t, size_t offered,
                                          InPlaceFill& fill) {
  size_t index = 0;
  return t.SendInPlace(3, 1000, offered, std::ref(fill),
                       [&](absl::Span<uint8_t> head, size_t data) {
                         head[0] = 94;
                         head[1] = static_cast<uint8_t>(index++);
                         head[2] = static_cast<uint8_t>(data / 256);
                       });
}

TEST(TransportTest, InPlaceSendFillsSlotsAndSendsOnlyWhatWasWritten) {
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  peers->server_received.clear();
  // 3,500 bytes offered: slots of 1000, 1000, 1000, 500; the source had
  // only 2,345 (a short read): three messages, the last one short.
  InPlaceFill fill{2345, {}};
  auto sent = SendInPlacePattern(*peers->client, 3500, fill);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 2345u);
  EXPECT_EQ(fill.slot_sizes, (std::vector<size_t>{1000, 1000, 1000, 500}));
  // Nothing read: nothing sent, no stray bytes left in the output.
  const size_t buffered = peers->client->BufferedOutputBytes();
  InPlaceFill none{0, {}};
  auto zero = SendInPlacePattern(*peers->client, 3500, none);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, 0u);
  EXPECT_EQ(peers->client->BufferedOutputBytes(), buffered);
  peers->Pump();
  ASSERT_FALSE(peers->server->closed()) << peers->server->close_status();
  EXPECT_EQ(peers->server_received, InPlaceMessages(2345));

  // During a key exchange the messages are queued and arrive after it.
  peers->server_received.clear();
  ASSERT_TRUE(peers->client->StartRekey().ok());
  InPlaceFill during{3000, {}};
  sent = SendInPlacePattern(*peers->client, 3000, during);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 3000u);
  peers->Pump();
  ASSERT_FALSE(peers->server->closed()) << peers->server->close_status();
  EXPECT_EQ(peers->client->kex_count(), 2);
  EXPECT_EQ(peers->server_received, InPlaceMessages(3000));

  // A fill claiming more than it was offered is held to the offer.
  peers->server_received.clear();
  sent = peers->client->SendInPlace(
      3, 1000, 1500,
      [](absl::Span<const absl::Span<uint8_t>> slots) -> size_t {
        for (auto slot : slots) std::fill(slot.begin(), slot.end(), 7);
        return 99999;
      },
      [](absl::Span<uint8_t> head, size_t) { head[0] = 94; });
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, 1500u);
  peers->Pump();
  ASSERT_EQ(peers->server_received.size(), 2u);
  EXPECT_EQ(peers->server_received[1].size(), 3u + 500u);

  // Refusals: an empty header, a message over the largest payload.
  auto noop = [](absl::Span<const absl::Span<uint8_t>>) -> size_t { return 0; };
  auto nohead = [](absl::Span<uint8_t>, size_t) {};
  EXPECT_EQ(
      peers->client->SendInPlace(0, 1000, 10, noop, nohead).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(peers->client->SendInPlace(9, kMaxOutgoingPayload, 10, noop, nohead)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TransportTest, ZeroCopyInputWithShortReadsAndLeftovers) {
  // The driver reads into PrepareInput(256 KiB) and commits what the socket
  // gave; the input buffer is reused without being cleared. Deliver the
  // handshake and data in odd-sized pieces (as short reads would) and
  // check every message arrives intact.
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  peers->server_received.clear();
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < 50; ++i) {
    sent.push_back(CountedDataMessage(i, 1000 + 997 * i));
    ASSERT_TRUE(peers->client->Send(sent.back()).ok());
  }
  std::vector<uint8_t> bytes(peers->client->PendingOutput().begin(),
                             peers->client->PendingOutput().end());
  peers->client->Consume(bytes.size());
  std::vector<std::vector<uint8_t>> got;
  size_t off = 0, step = 1;
  while (off < bytes.size()) {
    const size_t n = std::min(bytes.size() - off, step);
    auto region = peers->server->PrepareInput(256 << 10);
    ASSERT_GE(region.size(), n);
    std::copy(bytes.begin() + static_cast<std::ptrdiff_t>(off),
              bytes.begin() + static_cast<std::ptrdiff_t>(off + n),
              region.begin());
    peers->server->CommitInput(n);
    off += n;
    step = step * 3 % 40009 + 1;  // 1, 4, 13, ... up to ~40 KB
    while (auto msg = peers->server->Next())
      got.emplace_back(msg->begin(), msg->end());
  }
  ASSERT_FALSE(peers->server->closed()) << peers->server->close_status();
  EXPECT_EQ(got, sent);
  EXPECT_GT(peers->server->bytes_received(), bytes.size());
}

TEST(TransportTest, KexQueueIsBounded) {
  auto peers = TestPeers::Create([](TransportOptions& c, TransportOptions&) {
    c.max_queued_bytes = 100000;
  });
  peers->Pump();
  peers->Authenticate();
  ASSERT_TRUE(peers->client->StartRekey().ok());
  // The server has not answered: the client queues, up to the limit.
  absl::Status s;
  int sent = 0;
  while ((s = peers->client->Send(CountedDataMessage(sent, 10000))).ok())
    ++sent;
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LE(peers->client->BufferedOutputBytes(), 100000u + 1000u);
  EXPECT_GE(sent, 5);
  peers->Pump();
  EXPECT_EQ(peers->client->kex_count(), 2);
}

}  // namespace
}  // namespace sallyport::ssh::transport
