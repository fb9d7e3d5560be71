#include "ssh/cert/render.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::cert {
namespace {

constexpr char kIndent[] = "        ";
constexpr char kItemIndent[] = "                ";

// ssh-keygen's sshkey_type() names.
std::string_view ShortTypeName(std::string_view ssh_name) {
  if (ssh_name == "ssh-ed25519") return "ED25519";
  if (ssh_name.starts_with("ecdsa-sha2-")) return "ECDSA";
  if (ssh_name == "ssh-rsa") return "RSA";
  if (ssh_name == "ssh-dss") return "DSA";
  return "unknown";
}

std::string FormatTime(uint64_t t, absl::TimeZone tz) {
  const int64_t secs =
      t > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
          ? std::numeric_limits<int64_t>::max()
          : static_cast<int64_t>(t);
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(secs), tz);
}

std::string Validity(const Certificate& cert, absl::TimeZone tz) {
  if (cert.valid_after == 0 && cert.valid_before == kForever) return "forever";
  if (cert.valid_after == 0) {
    return absl::StrCat("before ", FormatTime(cert.valid_before, tz));
  }
  if (cert.valid_before == kForever) {
    return absl::StrCat("after ", FormatTime(cert.valid_after, tz));
  }
  return absl::StrCat("from ", FormatTime(cert.valid_after, tz), " to ",
                      FormatTime(cert.valid_before, tz));
}

bool IsKnownExtensionFlag(std::string_view name) {
  return name == kPermitX11Forwarding || name == kPermitAgentForwarding ||
         name == kPermitPortForwarding || name == kPermitPty ||
         name == kPermitUserRc || name == "no-touch-required";
}

void RenderOptions(const std::vector<CertOption>& options, bool critical,
                   std::string* out) {
  for (const CertOption& o : options) {
    absl::StrAppend(out, kItemIndent, o.name);
    if (!critical && IsKnownExtensionFlag(o.name)) {
      // The name alone.
    } else if (critical &&
               (o.name == kForceCommand || o.name == kSourceAddress) &&
               o.Value().ok()) {
      absl::StrAppend(out, " ", *o.Value());
    } else if (critical && o.name == kVerifyRequired) {
      // The name alone.
    } else if (!o.data.empty()) {
      const std::string raw(o.data.begin(), o.data.end());
      absl::StrAppend(out, " UNKNOWN OPTION: ", absl::BytesToHexString(raw),
                      " (len ", o.data.size(), ")");
    } else {
      absl::StrAppend(out, " UNKNOWN FLAG OPTION");
    }
    out->push_back('\n');
  }
}

}  // namespace

std::string Render(const Certificate& cert, absl::TimeZone tz) {
  wire::Reader r(cert.signature_key_blob);
  auto ca_type = r.ReadStringView(wire::kMaxNameLength);
  const std::string_view ca_name = ca_type.ok() ? *ca_type : "";

  std::string out;
  absl::StrAppend(&out, kIndent, "Type: ", cert.type_name, " ",
                  std::string(CertTypeName(cert.type)), " certificate\n");
  absl::StrAppend(&out, kIndent, "Public key: ",
                  std::string(ShortTypeName(cert.key.TypeName())), "-CERT ",
                  cert.KeyFingerprint(), "\n");
  absl::StrAppend(
      &out, kIndent, "Signing CA: ", std::string(ShortTypeName(ca_name)), " ",
      cert.CaFingerprint(), " (using ", cert.signature_algorithm, ")\n");
  absl::StrAppend(&out, kIndent, "Key ID: \"", cert.key_id, "\"\n");
  absl::StrAppend(&out, kIndent, "Serial: ", cert.serial, "\n");
  absl::StrAppend(&out, kIndent, "Valid: ", Validity(cert, tz), "\n");
  absl::StrAppend(&out, kIndent, "Principals: ");
  if (cert.principals.empty()) {
    out += "(none)\n";
  } else {
    for (const std::string& p : cert.principals) {
      absl::StrAppend(&out, "\n", kItemIndent, p);
    }
    out += "\n";
  }
  absl::StrAppend(&out, kIndent, "Critical Options: ");
  if (cert.critical_options.empty()) {
    out += "(none)\n";
  } else {
    out += "\n";
    RenderOptions(cert.critical_options, /*critical=*/true, &out);
  }
  absl::StrAppend(&out, kIndent, "Extensions: ");
  if (cert.extensions.empty()) {
    out += "(none)\n";
  } else {
    out += "\n";
    RenderOptions(cert.extensions, /*critical=*/false, &out);
  }
  return out;
}

}  // namespace sallyport::ssh::cert
