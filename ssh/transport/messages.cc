#include "ssh/transport/messages.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {

std::string MessageName(uint8_t type) {
  switch (type) {
    case kMsgDisconnect:
      return "DISCONNECT";
    case kMsgIgnore:
      return "IGNORE";
    case kMsgUnimplemented:
      return "UNIMPLEMENTED";
    case kMsgDebug:
      return "DEBUG";
    case kMsgServiceRequest:
      return "SERVICE_REQUEST";
    case kMsgServiceAccept:
      return "SERVICE_ACCEPT";
    case kMsgExtInfo:
      return "EXT_INFO";
    case kMsgKexInit:
      return "KEXINIT";
    case kMsgNewKeys:
      return "NEWKEYS";
    case kMsgKexEcdhInit:
      return "KEX_ECDH_INIT";
    case kMsgKexEcdhReply:
      return "KEX_ECDH_REPLY";
    case kMsgUserauthRequest:
      return "USERAUTH_REQUEST";
    case kMsgUserauthFailure:
      return "USERAUTH_FAILURE";
    case kMsgUserauthSuccess:
      return "USERAUTH_SUCCESS";
    case kMsgUserauthBanner:
      return "USERAUTH_BANNER";
    case kMsgUserauthPkOk:
      return "USERAUTH_PK_OK";
    case kMsgPing:
      return "PING";
    case kMsgPong:
      return "PONG";
    default:
      return absl::StrCat("msg ", type);
  }
}

absl::StatusOr<KexInitMsg> KexInitMsg::Parse(Bytes payload) {
  wire::Reader r(payload);
  ASSIGN_OR_RETURN(uint8_t type, r.ReadByte());
  if (type != kMsgKexInit) return absl::InvalidArgumentError("not a KEXINIT");
  KexInitMsg m;
  ASSIGN_OR_RETURN(Bytes cookie, r.ReadRaw(16));
  std::copy(cookie.begin(), cookie.end(), m.cookie.begin());
  for (auto* list :
       {&m.kex_algorithms, &m.server_host_key_algorithms, &m.encryption_c2s,
        &m.encryption_s2c, &m.mac_c2s, &m.mac_s2c, &m.compression_c2s,
        &m.compression_s2c, &m.languages_c2s, &m.languages_s2c}) {
    ASSIGN_OR_RETURN(*list, r.ReadNameList());
  }
  ASSIGN_OR_RETURN(m.first_kex_packet_follows, r.ReadBool());
  ASSIGN_OR_RETURN(m.reserved, r.ReadUint32());
  RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

std::vector<uint8_t> KexInitMsg::Serialize() const {
  wire::Writer w;
  w.Byte(kMsgKexInit).Raw(Bytes(cookie.data(), cookie.size()));
  for (const auto* list :
       {&kex_algorithms, &server_host_key_algorithms, &encryption_c2s,
        &encryption_s2c, &mac_c2s, &mac_s2c, &compression_c2s, &compression_s2c,
        &languages_c2s, &languages_s2c}) {
    w.NameList(*list);
  }
  w.Bool(first_kex_packet_follows).Uint32(reserved);
  return w.Take();
}

absl::StatusOr<DisconnectMsg> DisconnectMsg::Parse(Bytes payload) {
  wire::Reader r(payload);
  ASSIGN_OR_RETURN(uint8_t type, r.ReadByte());
  if (type != kMsgDisconnect)
    return absl::InvalidArgumentError("not a DISCONNECT");
  DisconnectMsg m;
  ASSIGN_OR_RETURN(m.reason, r.ReadUint32());
  ASSIGN_OR_RETURN(std::string_view desc, r.ReadStringView(4096));
  ASSIGN_OR_RETURN(std::string_view lang, r.ReadStringView(256));
  m.description = std::string(desc);
  m.language = std::string(lang);
  RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

std::vector<uint8_t> DisconnectMsg::Serialize() const {
  wire::Writer w;
  w.Byte(kMsgDisconnect).Uint32(reason).String(description).String(language);
  return w.Take();
}

absl::StatusOr<ExtInfoMsg> ExtInfoMsg::Parse(Bytes payload) {
  wire::Reader r(payload);
  ASSIGN_OR_RETURN(uint8_t type, r.ReadByte());
  if (type != kMsgExtInfo) return absl::InvalidArgumentError("not an EXT_INFO");
  ASSIGN_OR_RETURN(uint32_t count, r.ReadUint32());
  if (count >= 1024)
    return absl::InvalidArgumentError("EXT_INFO with too many entries");
  ExtInfoMsg m;
  for (uint32_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(std::string_view name, r.ReadCString(256));
    ASSIGN_OR_RETURN(std::string_view value, r.ReadCString(64 * 1024));
    m.extensions.emplace_back(std::string(name), std::string(value));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

std::vector<uint8_t> ExtInfoMsg::Serialize() const {
  wire::Writer w;
  w.Byte(kMsgExtInfo).Uint32(static_cast<uint32_t>(extensions.size()));
  for (const auto& [name, value] : extensions) w.String(name).String(value);
  return w.Take();
}

absl::StatusOr<std::string> ParseServiceMsg(uint8_t expected_type,
                                            Bytes payload) {
  wire::Reader r(payload);
  ASSIGN_OR_RETURN(uint8_t type, r.ReadByte());
  if (type != expected_type)
    return absl::InvalidArgumentError("unexpected message");
  ASSIGN_OR_RETURN(std::string_view name, r.ReadCString(256));
  RETURN_IF_ERROR(r.ExpectEnd());
  return std::string(name);
}

std::vector<uint8_t> SerializeServiceMsg(uint8_t type,
                                         std::string_view service) {
  wire::Writer w;
  w.Byte(type).String(service);
  return w.Take();
}

}  // namespace sallyport::ssh::transport
