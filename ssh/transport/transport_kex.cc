// Key exchange (RFC 4253 §7–8, RFC 5656, RFC 8731,
// draft-ietf-sshm-mlkem-hybrid-kex, strict kex from OpenSSH's PROTOCOL):
// KEXINIT, ECDH / hybrid, NEWKEYS, EXT_INFO, and switching keys.
// The rest of the transport is in transport.cc.
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "ssh/crypto/cipher.h"
#include "ssh/transport/transport.h"
#include "ssh/transport/transport_internal.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {

using internal::Contains;
using internal::PhaseName;
using internal::Sanitize;

absl::Status Transport::OnKexInit(wire::Bytes payload) {
  if ((kex_ != nullptr) && kex_->kexinit_received) {
    return absl::InvalidArgumentError("second KEXINIT during a key exchange");
  }
  ASSIGN_OR_RETURN(KexInitMsg peer, KexInitMsg::Parse(payload));
  const bool initial = phase_ == Phase::kInitialKex;
  if (!initial) {
    if (phase_ != Phase::kAuthenticated) {
      return absl::InvalidArgumentError(
          "key re-exchange before authentication");
    }
    if (!(kex_ != nullptr)) {
      ++peer_rekeys_;
      RETURN_IF_ERROR(SendKexInit());
    }
  }
  kex_->peer_kexinit.assign(payload.begin(), payload.end());
  kex_->kexinit_received = true;

  const bool client = options_.role == Role::kClient;
  if (initial) {
    strict_kex_ = Contains(peer.kex_algorithms,
                           client ? kStrictKexServer : kStrictKexClient);
    if (strict_kex_ && !first_packet_was_kexinit_) {
      return absl::InvalidArgumentError(
          "strict kex: KEXINIT was not the first packet");
    }
    peer_ext_info_ =
        Contains(peer.kex_algorithms, client ? kExtInfoServer : kExtInfoClient);
  }
  ASSIGN_OR_RETURN(KexInitMsg ours, KexInitMsg::Parse(kex_->our_kexinit));
  ASSIGN_OR_RETURN(kex_->algorithms,
                   client ? Negotiate(ours, peer) : Negotiate(peer, ours));
  if (peer.first_kex_packet_follows) {
    const bool right_guess =
        !peer.kex_algorithms.empty() &&
        peer.kex_algorithms[0] == kex_->algorithms.kex &&
        !peer.server_host_key_algorithms.empty() &&
        peer.server_host_key_algorithms[0] == kex_->algorithms.host_key;
    kex_->ignore_next_kex_packet = !right_guess;
  }
  if (client) {
    ASSIGN_OR_RETURN(kex_->ephemeral,
                     KexAgreement::StartClient(kex_->algorithms.kex));
    wire::Writer w;
    w.Byte(kMsgKexEcdhInit).String(kex_->ephemeral->client_value());
    SendPacket(w.data());
  }
  return absl::OkStatus();
}

absl::Status Transport::OnEcdhInit(wire::Bytes payload) {
  if (!(kex_ != nullptr) || !kex_->kexinit_received || kex_->ecdh_done) {
    return absl::InvalidArgumentError("unexpected KEX_ECDH_INIT");
  }
  if (kex_->ignore_next_kex_packet) {
    kex_->ignore_next_kex_packet = false;
    return absl::OkStatus();
  }
  wire::Reader r(payload.subspan(1));
  ASSIGN_OR_RETURN(wire::Bytes q_c, r.ReadString(kMaxKexClientValue));
  RETURN_IF_ERROR(r.ExpectEnd());

  const Algorithms& algs = kex_->algorithms;
  auto shared = KexAgreement::ServerRespond(algs.kex, q_c);
  if (!shared.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("key agreement failed: ", shared.status().message()));
  }
  const ServerHostKey* host_key = nullptr;
  for (const auto& hk : options_.host_keys) {
    if (Contains(hk.Algorithms(), algs.host_key)) {
      host_key = &hk;
      break;
    }
  }
  if (host_key == nullptr)
    return absl::InternalError("negotiated a host key we do not have");
  const bool cert =
      algs.host_key.find("-cert-v01@openssh.com") != std::string::npos;
  const std::vector<uint8_t>& k_s =
      cert ? host_key->certificate : host_key->key.public_key().Blob();

  const std::vector<uint8_t> h = ExchangeHash(
      KexHash(algs.kex), peer_version_, our_version_, kex_->peer_kexinit,
      kex_->our_kexinit, k_s, q_c, shared->server_value, shared->encoded_k);
  ASSIGN_OR_RETURN(std::vector<uint8_t> signature, host_key->key.Sign(h));
  if (session_id_.empty()) session_id_ = h;

  wire::Writer w;
  w.Byte(kMsgKexEcdhReply)
      .String(k_s)
      .String(shared->server_value)
      .String(signature);
  SendPacket(w.data());
  kex_->ecdh_done = true;
  RETURN_IF_ERROR(InstallKeys(shared->encoded_k, h));
  return SendNewKeysAndSwitch();
}

absl::Status Transport::OnEcdhReply(wire::Bytes payload) {
  if (!(kex_ != nullptr) || !kex_->kexinit_received || kex_->ecdh_done ||
      !kex_->ephemeral) {
    return absl::InvalidArgumentError("unexpected KEX_ECDH_REPLY");
  }
  if (kex_->ignore_next_kex_packet) {
    kex_->ignore_next_kex_packet = false;
    return absl::OkStatus();
  }
  wire::Reader r(payload.subspan(1));
  ASSIGN_OR_RETURN(wire::Bytes k_s, r.ReadString(16 * 1024));
  ASSIGN_OR_RETURN(wire::Bytes q_s, r.ReadString(kMaxKexServerValue));
  ASSIGN_OR_RETURN(wire::Bytes signature, r.ReadString(4096));
  RETURN_IF_ERROR(r.ExpectEnd());

  const Algorithms& algs = kex_->algorithms;
  auto host_key = options_.host_key_policy->Check(algs.host_key, k_s);
  if (!host_key.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("host key refused: ", host_key.status().message()));
  }
  if (!server_host_key_blob_.empty() &&
      !std::equal(k_s.begin(), k_s.end(), server_host_key_blob_.begin(),
                  server_host_key_blob_.end())) {
    return absl::UnauthenticatedError(
        "server host key changed during key re-exchange");
  }
  auto shared = kex_->ephemeral->ClientFinish(q_s);
  if (!shared.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("key agreement failed: ", shared.status().message()));
  }
  const std::vector<uint8_t> h = ExchangeHash(
      KexHash(algs.kex), our_version_, peer_version_, kex_->our_kexinit,
      kex_->peer_kexinit, k_s, kex_->ephemeral->client_value(), q_s, *shared);
  absl::Status verified = host_key->Verify(
      h, signature, SignatureAlgorithmForHostKey(algs.host_key));
  if (!verified.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("server's signature over the exchange hash is invalid: ",
                     verified.message()));
  }
  if (session_id_.empty()) session_id_ = h;
  if (!server_host_key_.has_value()) {
    server_host_key_ = *host_key;
    server_host_key_blob_.assign(k_s.begin(), k_s.end());
  }
  kex_->ecdh_done = true;
  kex_->ephemeral.reset();
  RETURN_IF_ERROR(InstallKeys(*shared, h));
  return SendNewKeysAndSwitch();
}

// `shared` is K encoded as the kex method puts it in the exchange hash.
absl::Status Transport::InstallKeys(const base::SecretBytes& shared,
                                    const std::vector<uint8_t>& h) {
  const Algorithms& algs = kex_->algorithms;
  const crypto::HashAlgorithm hash = KexHash(algs.kex);
  struct Direction {
    const std::string* cipher;
    const std::string* mac;
    char iv, key, mac_key;
  };
  const Direction c2s{&algs.cipher_c2s, &algs.mac_c2s, 'A', 'C', 'E'};
  const Direction s2c{&algs.cipher_s2c, &algs.mac_s2c, 'B', 'D', 'F'};
  const bool client = options_.role == Role::kClient;
  for (const Direction* d : {&c2s, &s2c}) {
    ASSIGN_OR_RETURN(crypto::CipherSpec spec, crypto::LookupCipher(*d->cipher));
    size_t mac_len = 0;
    if (!d->mac->empty()) {
      ASSIGN_OR_RETURN(mac_len, crypto::LookupMacKeyLength(*d->mac));
    }
    base::SecretBytes iv =
        DeriveKey(hash, shared, h, d->iv, session_id_, spec.iv_length);
    base::SecretBytes key =
        DeriveKey(hash, shared, h, d->key, session_id_, spec.key_length);
    base::SecretBytes mac =
        DeriveKey(hash, shared, h, d->mac_key, session_id_, mac_len);
    const bool outgoing = (d == &c2s) == client;
#ifdef SALLYPORT_FUZZING_NULL_CIPHER
    if (*d->cipher == "none" && options_.fuzzing_allow_none_cipher) {
      (outgoing ? kex_->next_out : kex_->next_in) = crypto::CreateNoneCipher();
      continue;
    }
#endif
    ASSIGN_OR_RETURN(auto cipher, crypto::CreatePacketCipher(
                                      *d->cipher, *d->mac, key.span(),
                                      iv.span(), mac.span(), outgoing));
    (outgoing ? kex_->next_out : kex_->next_in) = std::move(cipher);
  }
  return absl::OkStatus();
}

absl::Status Transport::SendNewKeysAndSwitch() {
  const uint8_t newkeys = kMsgNewKeys;
  SendPacket(absl::MakeConstSpan(&newkeys, 1));
  encoder_.SetCipher(std::move(kex_->next_out));
  if (strict_kex_) encoder_.ResetSequenceNumber();
  kex_->newkeys_sent = true;
  bytes_out_since_kex_ = 0;
  packets_out_since_kex_ = 0;
  // RFC 8308 §2.4: EXT_INFO right after the server's first NEWKEYS.
  if (options_.role == Role::kServer && kex_count_ == 0 && peer_ext_info_) {
    wire::Writer algs;
    ExtInfoMsg ext;
    std::string list;
    for (const auto& a : options_.server_sig_algs) {
      if (a == "ssh-rsa") continue;  // never advertise SHA-1 signatures
      if (!list.empty()) list += ",";
      list += a;
    }
    ext.extensions.emplace_back("server-sig-algs", list);
    SendPacket(ext.Serialize());
  }
  if (kex_->newkeys_received) {
    ++kex_count_;
    last_kex_time_ = clock_->Monotonic();
    algorithms_ = kex_->algorithms;
    kex_.reset();
    if (phase_ == Phase::kInitialKex) phase_ = Phase::kService;
  }
  FlushQueue();
  return absl::OkStatus();
}

absl::Status Transport::OnNewKeys() {
  if (!(kex_ != nullptr) || !kex_->ecdh_done || kex_->newkeys_received) {
    return absl::InvalidArgumentError("unexpected NEWKEYS");
  }
  if (kex_->next_in == nullptr)
    return absl::InternalError("no keys for NEWKEYS");
  decoder_.SetCipher(std::move(kex_->next_in));
  if (strict_kex_) decoder_.ResetSequenceNumber();
  kex_->newkeys_received = true;
  bytes_in_since_kex_ = 0;
  packets_in_since_kex_ = 0;
  if (kex_->newkeys_sent) {
    ++kex_count_;
    last_kex_time_ = clock_->Monotonic();
    algorithms_ = kex_->algorithms;
    kex_.reset();
    if (phase_ == Phase::kInitialKex) phase_ = Phase::kService;
  }
  return absl::OkStatus();
}

absl::Status Transport::OnExtInfo(wire::Bytes payload) {
  const bool client = options_.role == Role::kClient;
  if (phase_ != Phase::kService && phase_ != Phase::kUserauth) {
    return absl::InvalidArgumentError(
        "EXT_INFO outside the authentication phase");
  }
  // We always offer ext-info in our first KEXINIT; at most 1 from a client
  // and 2 from a server (RFC 8308 §2.4).
  if (ext_info_received_ >= (client ? 2 : 1)) {
    return absl::InvalidArgumentError("too many EXT_INFO messages");
  }
  ++ext_info_received_;
  ASSIGN_OR_RETURN(ExtInfoMsg msg, ExtInfoMsg::Parse(payload));
  if (client) {
    for (const auto& [name, value] : msg.extensions) {
      if (name != "server-sig-algs") continue;
      peer_sig_algs_.clear();
      for (absl::string_view a :
           absl::StrSplit(value, ',', absl::SkipEmpty())) {
        if (peer_sig_algs_.size() >= 128) break;
        peer_sig_algs_.emplace_back(a);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Transport::SendKexInit() {
  KexInitMsg m;
  if (RAND_bytes(m.cookie.data(), static_cast<int>(m.cookie.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  const bool client = options_.role == Role::kClient;
  m.kex_algorithms = options_.kex_algorithms;
  if (phase_ == Phase::kInitialKex) {
    // Feature flags only in the first KEXINIT (strict kex is stripped from
    // re-exchange proposals).
    m.kex_algorithms.push_back(client ? kExtInfoClient : kExtInfoServer);
    m.kex_algorithms.push_back(client ? kStrictKexClient : kStrictKexServer);
  }
  if (client) {
    m.server_host_key_algorithms = options_.host_key_policy->Algorithms();
  } else {
    for (const auto& hk : options_.host_keys) {
      for (auto& a : hk.Algorithms()) {
        if (!Contains(m.server_host_key_algorithms, a))
          m.server_host_key_algorithms.push_back(a);
      }
    }
  }
  m.encryption_c2s = m.encryption_s2c = options_.ciphers;
  m.mac_c2s = m.mac_s2c = options_.macs;
  m.compression_c2s = m.compression_s2c = {"none"};
  KexState state;
  state.started = clock_->Monotonic();
  state.our_kexinit = m.Serialize();
  kex_ = std::make_unique<KexState>(std::move(state));
  SendPacket(kex_->our_kexinit);
  return absl::OkStatus();
}

}  // namespace sallyport::ssh::transport
