#include "ssh/auth/signed_data.h"

#include "absl/strings/str_cat.h"
#include "ssh/transport/kex.h"
#include "ssh/transport/messages.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::auth {
namespace {

constexpr std::string_view kPublicKeyMethod = "publickey";

// The field's name in front of the reader's error.
template <typename T>
absl::StatusOr<T> Field(std::string_view name, absl::StatusOr<T> value) {
  if (value.ok()) return value;
  return absl::InvalidArgumentError(
      absl::StrCat("userauth signed data: ", std::string(name), ": ",
                   std::string(value.status().message())));
}

absl::Status Refuse(std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("userauth signed data: ", std::string(why)));
}

}  // namespace

std::vector<uint8_t> SignedData(Bytes session_id, std::string_view user,
                                std::string_view service,
                                std::string_view algorithm, Bytes blob) {
  wire::Writer w;
  w.String(session_id)
      .Byte(transport::kMsgUserauthRequest)
      .String(user)
      .String(service)
      .String(kPublicKeyMethod)
      .Bool(true)
      .String(algorithm)
      .String(blob);
  return w.Take();
}

absl::StatusOr<SignedUserauthRequest> ParseSignedData(Bytes data) {
  if (data.size() > kMaxSignedDataBytes) {
    return Refuse(absl::StrCat("longer than ", kMaxSignedDataBytes, " bytes"));
  }
  wire::Reader r(data);
  SignedUserauthRequest out;
  auto session_id =
      Field("session identifier", r.ReadString(kMaxSessionIdBytes));
  if (!session_id.ok()) return session_id.status();
  if (session_id->empty()) return Refuse("empty session identifier");
  out.session_id = *session_id;
  auto message = Field("message number", r.ReadByte());
  if (!message.ok()) return message.status();
  if (*message != transport::kMsgUserauthRequest) {
    return Refuse(
        absl::StrCat("message number ", static_cast<int>(*message), ", not ",
                     static_cast<int>(transport::kMsgUserauthRequest)));
  }
  auto user = Field("user", r.ReadCString(kMaxUserNameBytes));
  if (!user.ok()) return user.status();
  out.user = *user;
  auto service = Field("service", r.ReadCString(kMaxServiceNameBytes));
  if (!service.ok()) return service.status();
  out.service = *service;
  auto method = Field("method", r.ReadCString(kPublicKeyMethod.size()));
  if (!method.ok()) return method.status();
  if (*method != kPublicKeyMethod) return Refuse("method is not publickey");
  // A signed request says TRUE, written as 1; nothing else is ours.
  auto has_signature = Field("boolean", r.ReadByte());
  if (!has_signature.ok()) return has_signature.status();
  if (*has_signature != 1) return Refuse("the boolean is not TRUE (1)");
  auto algorithm = Field("algorithm", r.ReadCString(kMaxKeyAlgorithmBytes));
  if (!algorithm.ok()) return algorithm.status();
  out.algorithm = *algorithm;
  auto blob = Field("key blob", r.ReadString(kMaxKeyBlobBytes));
  if (!blob.ok()) return blob.status();
  if (blob->empty()) return Refuse("empty key blob");
  out.key_blob = *blob;
  if (absl::Status end = r.ExpectEnd(); !end.ok()) {
    return Refuse("trailing bytes");
  }
  return out;
}

std::string KeyBlobTypeFor(std::string_view algorithm) {
  if (algorithm == "rsa-sha2-256" || algorithm == "rsa-sha2-512")
    return "ssh-rsa";
  if (algorithm == "rsa-sha2-256-cert-v01@openssh.com" ||
      algorithm == "rsa-sha2-512-cert-v01@openssh.com") {
    return "ssh-rsa-cert-v01@openssh.com";
  }
  return std::string(algorithm);
}

absl::Status VerifyUserauthSignature(Bytes data, Bytes signature,
                                     std::string_view algorithm,
                                     const crypto::PublicKey& key) {
  const std::string sig_alg =
      transport::SignatureAlgorithmForHostKey(algorithm);
  if (sig_alg.empty()) {
    return absl::UnauthenticatedError("no signature algorithm");
  }
  return key.Verify(data, signature, sig_alg);
}

}  // namespace sallyport::ssh::auth
