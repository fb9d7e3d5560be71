#include "ssh/cert/verify.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/bounded_cache.h"
#include "ssh/cert/source_address.h"
#include "ssh/crypto/hash.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::cert {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

// Peer-controlled text in a log message: escaped and bounded.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 200;
  std::string out = absl::CHexEscape(Str(s.substr(0, kMax)));
  if (s.size() > kMax) out += "...";
  return absl::StrCat("\"", out, "\"");
}

absl::Status Unauthenticated(const Certificate& cert, std::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat(DescribeForLog(cert), ": ", Str(why)));
}

absl::Status Denied(const Certificate& cert, std::string_view why) {
  return absl::PermissionDeniedError(
      absl::StrCat(DescribeForLog(cert), ": ", Str(why)));
}

// CA signatures that verified, as SHA-256(CA key, signed bytes, signature,
// algorithm). Whether a signature verifies depends on nothing else, so
// finding the digest here is the same as verifying again. A gateway checks
// the same certificate many times (every connection of a user until it
// expires, twice per connection: the query and the signed request; a
// target's host certificate on every upstream connection); each Ed25519
// check costs far more than the hash. Only successes are kept; bounded:
// when full it starts over.
base::BoundedCache<bool>& VerifiedSignatures() {
  static auto* const v = new base::BoundedCache<bool>(4096);  // kept
  return *v;
}

std::string SignatureDigest(const crypto::PublicKey& ca, Bytes signed_data,
                            Bytes signature, std::string_view algorithm) {
  wire::Writer lengths;  // each part's length, so no two splits collide
  lengths.Uint32(static_cast<uint32_t>(ca.Blob().size()))
      .Uint32(static_cast<uint32_t>(signed_data.size()))
      .Uint32(static_cast<uint32_t>(signature.size()))
      .Uint32(static_cast<uint32_t>(algorithm.size()));
  std::vector<uint8_t> d =
      crypto::Hasher(crypto::HashAlgorithm::kSha256)
          .Update(lengths.data())
          .Update(ca.Blob())
          .Update(signed_data)
          .Update(signature)
          .Update(Bytes(reinterpret_cast<const uint8_t*>(algorithm.data()),
                        algorithm.size()))
          .Finish();
  return std::string(d.begin(), d.end());
}

absl::Status CheckSignature(const Certificate& cert,
                            const crypto::PublicKey& ca) {
  // Read the algorithm from the signature blob itself, not from the
  // convenience field.
  wire::Reader r(cert.signature);
  auto alg = r.ReadCString(wire::kMaxNameLength);
  if (!alg.ok()) return Unauthenticated(cert, "malformed signature");
  if (!IsAllowedCaSignatureAlgorithm(*alg)) {
    return Unauthenticated(cert, absl::StrCat("CA signature algorithm ",
                                              Quote(*alg), " is not allowed"));
  }
  std::string digest =
      SignatureDigest(ca, cert.SignedData(), cert.signature, *alg);
  if (VerifiedSignatures().Find(digest).has_value()) return absl::OkStatus();
  absl::Status s = ca.Verify(cert.SignedData(), cert.signature, *alg);
  if (!s.ok()) {
    return Unauthenticated(
        cert, absl::StrCat("signature does not verify: ", s.message()));
  }
  VerifiedSignatures().Add(std::move(digest), true);
  return absl::OkStatus();
}

namespace {

// A certificate time for people: UTC, to the second ("forever" past the
// year 9999, as OpenSSH's 0xffffffffffffffff).
std::string CertTime(uint64_t unix_seconds) {
  constexpr uint64_t kYear9999 = 253402300799;
  if (unix_seconds > kYear9999) return "forever";
  return absl::FormatTime(
      "%Y-%m-%d %H:%M:%S UTC",
      absl::FromUnixSeconds(static_cast<int64_t>(unix_seconds)),
      absl::UTCTimeZone());
}

}  // namespace

absl::Status CheckValidity(const Certificate& cert, absl::Time now) {
  const int64_t secs = absl::ToUnixSeconds(now);  // rounds down
  const uint64_t at = secs < 0 ? 0 : static_cast<uint64_t>(secs);
  if (secs < 0 || at < cert.valid_after) {
    return Denied(cert, absl::StrCat("not yet valid (valid from ",
                                     CertTime(cert.valid_after), ", now ",
                                     CertTime(at), ")"));
  }
  if (at >= cert.valid_before) {
    return Denied(
        cert, absl::StrCat("expired (valid until ", CertTime(cert.valid_before),
                           ", now ", CertTime(at), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckPrincipal(const Certificate& cert,
                            const VerifyOptions& options) {
  const std::string& want = options.principal;
  // A name with a comma could be read as a list somewhere downstream.
  if (want.empty() || want.find(',') != std::string::npos ||
      want.find('\0') != std::string::npos) {
    return Denied(
        cert, absl::StrCat("principal ", Quote(want), " is not a valid name"));
  }
  if (cert.principals.empty()) {
    if (options.allow_empty_principals) return absl::OkStatus();
    return Denied(cert, "certificate lists no principals");
  }
  for (const std::string& p : cert.principals) {
    if (p == want) return absl::OkStatus();
  }
  // And what it does list: a user who asked for a login their certificate
  // lacks learns which they may use; an admin whose target presents
  // another host's certificate sees whose.
  constexpr size_t kMaxListed = 8;
  std::string listed;
  for (size_t i = 0; i < cert.principals.size() && i < kMaxListed; ++i) {
    absl::StrAppend(&listed, i == 0 ? "" : ", ", Quote(cert.principals[i]));
  }
  if (cert.principals.size() > kMaxListed) {
    absl::StrAppend(&listed, " and ", cert.principals.size() - kMaxListed,
                    " more");
  }
  return Denied(cert, absl::StrCat("principal ", Quote(want),
                                   " is not listed (the certificate lists ",
                                   listed, ")"));
}

absl::Status CheckCriticalOptions(const Certificate& cert,
                                  const VerifyOptions& options,
                                  CertificatePermissions* out) {
  for (const CertOption& o : cert.critical_options) {
    if (cert.type == CertType::kHost) {
      return Denied(cert, absl::StrCat("host certificate has critical option ",
                                       Quote(o.name)));
    }
    if (o.name == kForceCommand) {
      auto command = o.Value();
      if (!command.ok() || command->empty()) {
        return Denied(cert, "force-command has no command");
      }
      out->force_command = *command;
    } else if (o.name == kSourceAddress) {
      auto list = o.Value();
      if (!list.ok()) return Denied(cert, "source-address has no value");
      if (!options.source_address.has_value()) {
        return Denied(cert,
                      "source-address cannot be checked: peer address unknown");
      }
      auto match = SourceAddressMatches(*list, *options.source_address);
      if (!match.ok()) {
        return Denied(
            cert, absl::StrCat("source-address: ", match.status().message()));
      }
      if (!*match) {
        return Denied(cert, absl::StrCat("source address ",
                                         Quote(*options.source_address),
                                         " is not in ", Quote(*list)));
      }
      out->source_address = *list;
    } else if (o.name == kVerifyRequired) {
      if (!o.data.empty()) return Denied(cert, "verify-required has data");
      out->verify_required = true;
    } else {
      return Denied(cert,
                    absl::StrCat("unknown critical option ", Quote(o.name)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckExtensions(const Certificate& cert,
                             CertificatePermissions* out) {
  for (const CertOption& o : cert.extensions) {
    bool* flag = nullptr;
    if (o.name == kPermitPty) {
      flag = &out->permit_pty;
    } else if (o.name == kPermitPortForwarding) {
      flag = &out->permit_port_forwarding;
    } else if (o.name == kPermitAgentForwarding) {
      flag = &out->permit_agent_forwarding;
    } else if (o.name == kPermitX11Forwarding) {
      flag = &out->permit_x11_forwarding;
    } else if (o.name == kPermitUserRc) {
      flag = &out->permit_user_rc;
    }
    if (flag == nullptr) {
      out->other_extensions.push_back(o);
      continue;
    }
    // sshd treats data on a flag as a corrupt certificate.
    if (!o.data.empty()) {
      return Denied(cert,
                    absl::StrCat("extension ", Quote(o.name), " carries data"));
    }
    *flag = true;
  }
  return absl::OkStatus();
}

}  // namespace

std::string DescribeForLog(const Certificate& cert) {
  return absl::StrCat("certificate ", Quote(cert.key_id), " serial ",
                      cert.serial, " CA ", cert.CaFingerprint());
}

absl::StatusOr<CertificatePermissions> VerifyCertificate(
    const Certificate& cert, const VerifyOptions& options) {
  // The checks below read the fields; the signature covers the blob. They
  // must be the same bytes.
  if (cert.Encode() != cert.blob ||
      cert.signed_length + 4 + cert.signature.size() != cert.blob.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        DescribeForLog(cert), ": fields do not match the certificate blob"));
  }

  // 1. Trusted CA: the full key blob, never a fingerprint of a part of it.
  const crypto::PublicKey* ca = nullptr;
  for (const crypto::PublicKey& trusted : options.trusted_cas) {
    if (trusted.Blob() == cert.signature_key_blob) {
      ca = &trusted;
      break;
    }
  }
  if (ca == nullptr) return Unauthenticated(cert, "CA is not trusted");

  // 2. Type.
  if (cert.type != options.expected_type) {
    return Denied(cert, absl::StrCat(Str(CertTypeName(cert.type)),
                                     " certificate where a ",
                                     Str(CertTypeName(options.expected_type)),
                                     " certificate is required"));
  }

  // 3. Signature.
  if (absl::Status s = CheckSignature(cert, *ca); !s.ok()) return s;

  // 4. Validity.
  if (absl::Status s = CheckValidity(cert, options.now); !s.ok()) return s;

  // 5. Principal.
  if (absl::Status s = CheckPrincipal(cert, options); !s.ok()) return s;

  // 6. Critical options, 7. extensions.
  CertificatePermissions permissions;
  if (absl::Status s = CheckCriticalOptions(cert, options, &permissions);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckExtensions(cert, &permissions); !s.ok()) return s;

  if (options.revocation_check) {
    absl::Status s = options.revocation_check(cert);
    if (!s.ok()) {
      return Denied(cert, absl::StrCat("revoked or revocation status unknown: ",
                                       s.message()));
    }
  }
  return permissions;
}

}  // namespace sallyport::ssh::cert
