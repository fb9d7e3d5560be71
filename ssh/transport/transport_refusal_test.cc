// Two transports in memory: the rules a hostile peer must not get past
// (strict kex, tampering, timeouts, the per-phase message table).
#include <string>

#include "gtest/gtest.h"
#include "ssh/transport/test_peers.h"
#include "ssh/transport/transport.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {
namespace {

// ---- strict kex (Terrapin, CVE-2023-48795)

// Splits the client's first flight into its version line and its packets.
std::vector<uint8_t> PlainPacket(std::vector<uint8_t> payload) {
  PacketEncoder enc;
  std::vector<uint8_t> out;
  enc.Encode(payload, &out);
  return out;
}

TEST(StrictKexTest, IgnoreBeforeKexInitDisconnects) {
  auto peers = TestPeers::Create();
  // Insert an IGNORE between the client's version line and its KEXINIT.
  bool first = true;
  peers->tamper = [&](bool to_server, std::vector<uint8_t>& bytes) {
    if (!to_server || !first) return;
    first = false;
    auto eol = std::find(bytes.begin(), bytes.end(), '\n');
    ASSERT_NE(eol, bytes.end());
    auto ignore = PlainPacket(MessageBytes({kMsgIgnore, 0, 0, 0, 0}));
    bytes.insert(eol + 1, ignore.begin(), ignore.end());
  };
  peers->Pump();
  EXPECT_TRUE(peers->server->closed());
  EXPECT_NE(peers->server->close_status().message().find(
                "KEXINIT was not the first packet"),
            std::string::npos)
      << peers->server->close_status();
}

TEST(StrictKexTest, UnexpectedMessageDuringInitialKexDisconnects) {
  for (uint8_t type :
       {kMsgIgnore, kMsgDebug, kMsgUnimplemented, kMsgServiceRequest,
        kMsgUserauthRequest, uint8_t{80}, uint8_t{94}}) {
    auto peers = TestPeers::Create();
    bool first = true;
    peers->tamper = [&](bool to_server, std::vector<uint8_t>& bytes) {
      if (!to_server || !first) return;
      first = false;
      // Append the message right after the client's KEXINIT.
      auto extra = PlainPacket(MessageBytes({type, 0, 0, 0, 0}));
      bytes.insert(bytes.end(), extra.begin(), extra.end());
    };
    peers->Pump();
    EXPECT_TRUE(peers->server->closed()) << int(type);
    EXPECT_FALSE(peers->server->handshake_done());
  }
}

TEST(StrictKexTest, SequenceNumbersResetAtEveryNewKeys) {
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  // Without the reset, the sequence numbers after the handshake would be
  // > 3; with it they count only packets since NEWKEYS.
  const uint32_t after_auth = peers->server->last_received_sequence_number();
  EXPECT_LT(after_auth, 4u);
  ASSERT_TRUE(peers->client->StartRekey().ok());
  peers->Pump();
  ASSERT_EQ(peers->client->kex_count(), 2);
  ASSERT_TRUE(peers->client->Send(CountedDataMessage(1, 10)).ok());
  peers->Pump();
  EXPECT_EQ(peers->server->last_received_sequence_number(), 0u);
}

// ---- tampering

TEST(TamperTest, FlippedBitAfterKexIsRefusedForEachCipher) {
  for (std::string cipher :
       {"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com", "aes256-ctr"}) {
    for (size_t offset : {0, 3, 4, 5, 20, 60}) {
      auto peers =
          TestPeers::Create([&](TransportOptions& c, TransportOptions&) {
            c.ciphers = {cipher};
          });
      peers->Pump();
      ASSERT_TRUE(peers->server->handshake_done());
      ASSERT_TRUE(peers->client->Send(CountedDataMessage(7, 64)).ok());
      peers->tamper = [&](bool to_server, std::vector<uint8_t>& bytes) {
        if (to_server && offset < bytes.size()) bytes[offset] ^= 0x01;
      };
      peers->Pump();
      EXPECT_TRUE(peers->server->closed()) << cipher << " offset " << offset;
      EXPECT_TRUE(peers->server_received.empty())
          << cipher << " offset " << offset;
    }
  }
}

TEST(TamperTest, HandshakeTimeoutCutsOffSilentClient) {
  auto peers = TestPeers::Create([](TransportOptions&, TransportOptions& s) {
    s.login_grace_time = absl::Seconds(30);
  });
  // The client never sends anything.
  EXPECT_EQ(peers->server->NextDeadline(),
            peers->clock->Now() + absl::Seconds(30));
  peers->clock->Advance(absl::Seconds(29));
  peers->server->OnTimer();
  EXPECT_FALSE(peers->server->closed());
  peers->clock->Advance(absl::Seconds(1));
  peers->server->OnTimer();
  EXPECT_TRUE(peers->server->closed());
  EXPECT_EQ(peers->server->close_status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

// The login grace is measured on the monotonic clock: a wall clock set
// back an hour (NTP after a VM resume, `date -s`) kept a stalled client's
// connection, and its pre-auth slot, for that hour; one set forward ended
// it at once.
TEST(TamperTest, GraceTimeHoldsWhenTheWallClockSteps) {
  for (const absl::Duration step : {-absl::Hours(1), absl::Hours(1)}) {
    auto peers = TestPeers::Create([](TransportOptions&, TransportOptions& s) {
      s.login_grace_time = absl::Seconds(30);
    });
    peers->clock->Advance(absl::Seconds(10));
    peers->clock->Set(peers->clock->Now() + step);
    EXPECT_EQ(peers->server->NextDeadline(),
              peers->clock->Now() + absl::Seconds(20))
        << step;
    peers->clock->Advance(absl::Seconds(19));
    peers->server->OnTimer();
    EXPECT_FALSE(peers->server->closed()) << step;
    peers->clock->Advance(absl::Seconds(1));
    peers->server->OnTimer();
    EXPECT_TRUE(peers->server->closed()) << step;
    EXPECT_EQ(peers->server->close_status().code(),
              absl::StatusCode::kDeadlineExceeded)
        << step;
  }
}

TEST(TamperTest, GraceTimeCoversAuthenticationToo) {
  auto peers = TestPeers::Create([](TransportOptions&, TransportOptions& s) {
    s.login_grace_time = absl::Seconds(30);
  });
  peers->Pump();
  ASSERT_TRUE(peers->server->handshake_done());
  peers->clock->Advance(absl::Seconds(31));
  peers->server->OnTimer();
  EXPECT_TRUE(peers->server->closed());
}

// ---- the per-phase message table

TEST(DispatchTest, TableForEveryMessageNumber) {
  for (int t = 0; t < 256; ++t) {
    const uint8_t type = static_cast<uint8_t>(t);
    const bool conn = t >= 80 && t <= 127;
    EXPECT_FALSE(PeerMessageAllowed(Role::kServer, Phase::kInitialKex, type))
        << t;
    EXPECT_FALSE(PeerMessageAllowed(Role::kClient, Phase::kInitialKex, type))
        << t;
    EXPECT_EQ(PeerMessageAllowed(Role::kServer, Phase::kService, type), t == 5)
        << t;
    EXPECT_EQ(PeerMessageAllowed(Role::kClient, Phase::kService, type), t == 6)
        << t;
    EXPECT_EQ(PeerMessageAllowed(Role::kServer, Phase::kUserauth, type),
              t == 50)
        << t;
    EXPECT_EQ(PeerMessageAllowed(Role::kClient, Phase::kUserauth, type),
              t == 51 || t == 52 || t == 53 || t == 60)
        << t;
    EXPECT_EQ(PeerMessageAllowed(Role::kServer, Phase::kAuthenticated, type),
              conn)
        << t;
    EXPECT_EQ(PeerMessageAllowed(Role::kClient, Phase::kAuthenticated, type),
              conn)
        << t;
  }
}

// Every message number a client can send before authentication: only the
// expected ones reach the layer above; anything else that is not a generic
// transport message disconnects.
TEST(DispatchTest, ServerBeforeAuthenticationForEveryMessageNumber) {
  for (int t = 1; t < 256; ++t) {
    if (t == kMsgKexInit) continue;  // covered by PeerRekeyBeforeAuthentication
    for (Phase phase : {Phase::kService, Phase::kUserauth}) {
      auto peers = TestPeers::Create();
      peers->Pump();
      if (phase == Phase::kUserauth) {
        wire::Writer req;
        req.Byte(kMsgServiceRequest).String("ssh-userauth");
        ASSERT_TRUE(peers->client->Send(req.data()).ok());
        peers->Pump();
        wire::Writer acc;
        acc.Byte(kMsgServiceAccept).String("ssh-userauth");
        ASSERT_TRUE(peers->server->Send(acc.data()).ok());
        peers->Pump();
        peers->server_received.clear();
      }
      ASSERT_EQ(peers->server->phase(), phase);
      wire::Writer w;
      w.Byte(static_cast<uint8_t>(t)).Uint32(0).Uint32(0);
      ASSERT_TRUE(peers->client->Send(w.data()).ok());
      peers->Pump();
      // PING/PONG are dropped unanswered before authentication.
      const bool generic = t == kMsgIgnore || t == kMsgDebug ||
                           t == kMsgUnimplemented || t == kMsgPing ||
                           t == kMsgPong;
      const bool expected =
          PeerMessageAllowed(Role::kServer, phase, static_cast<uint8_t>(t));
      if (t == kMsgDisconnect) {
        EXPECT_TRUE(peers->server->closed());
      } else if (generic) {
        EXPECT_FALSE(peers->server->closed()) << t;
        EXPECT_TRUE(peers->server_received.empty()) << t;
      } else if (expected) {
        EXPECT_FALSE(peers->server->closed()) << t;
        EXPECT_EQ(peers->server_received.size(), 1u) << t;
      } else {
        EXPECT_TRUE(peers->server->closed())
            << "message " << t << " in phase " << static_cast<int>(phase);
        EXPECT_TRUE(peers->server_received.empty()) << t;
      }
    }
  }
}

TEST(DispatchTest, ClientSendingUserauthSuccessIsDisconnected) {
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();  // the server sent SUCCESS; now the client does
  ASSERT_EQ(peers->server->phase(), Phase::kAuthenticated);
  ASSERT_TRUE(peers->client->Send(MessageBytes({kMsgUserauthSuccess})).ok());
  peers->Pump();
  EXPECT_TRUE(peers->server->closed());
}

TEST(DispatchTest, UnknownMessageAfterAuthGetsUnimplemented) {
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  peers->server_received.clear();
  ASSERT_TRUE(peers->client->Send(MessageBytes({200, 1, 2, 3})).ok());
  peers->Pump();
  EXPECT_FALSE(peers->server->closed());
  EXPECT_TRUE(peers->server_received.empty());
  ASSERT_TRUE(peers->client->Send(CountedDataMessage(1, 5)).ok());
  peers->Pump();
  EXPECT_EQ(peers->server_received.size(), 1u);
}

TEST(DispatchTest, PingAnsweredOnlyAfterAuthentication) {
  auto peers = TestPeers::Create();
  peers->Pump();
  wire::Writer ping;
  ping.Byte(kMsgPing).String("x");
  const uint64_t before = peers->server->bytes_sent();
  ASSERT_TRUE(peers->client->Send(ping.data()).ok());
  peers->Pump();
  EXPECT_FALSE(peers->server->closed());
  EXPECT_EQ(peers->server->bytes_sent(), before);  // no PONG pre-auth
  peers->Authenticate();
  const uint64_t after_auth = peers->server->bytes_sent();
  ASSERT_TRUE(peers->client->Send(ping.data()).ok());
  peers->Pump();
  EXPECT_GT(peers->server->bytes_sent(), after_auth);  // PONG
}

}  // namespace
}  // namespace sallyport::ssh::transport
