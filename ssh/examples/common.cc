#include "ssh/examples/common.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/safe_text.h"

namespace sallyport::ssh::examples {

void Log(std::string_view line) {
  std::cerr << program_invocation_short_name << ": " << line << std::endl;
}

std::string DescribeAlgorithms(const transport::Transport& t) {
  const auto& a = t.algorithms();
  std::string mac = a.mac_c2s.empty() ? "<implicit>" : a.mac_c2s;
  return absl::StrCat("kex=", a.kex, " hostkey=", a.host_key,
                      " cipher=", a.cipher_c2s, " mac=", mac,
                      " strict-kex=", t.strict_kex() ? "yes" : "no",
                      " peer=", base::SafeText(t.peer_version()));
}

void ServerTuning::AddFlags(CLI::App& app) {
  app.add_option("--ciphers", ciphers, "comma-separated cipher preference");
  app.add_option("--kex", kex, "comma-separated key exchange preference");
  app.add_option("--macs", macs, "comma-separated MAC preference");
  app.add_option("--rekey-bytes", rekey_bytes, "rekey after this many bytes");
  app.add_option("--rekey-seconds", rekey_seconds,
                 "rekey after this many seconds");
  app.add_option("--login-grace-seconds", login_grace_seconds,
                 "disconnect clients not authenticated within this time");
}

absl::Status ServerTuning::Apply(transport::TransportOptions& options) const {
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    for (absl::string_view p : absl::StrSplit(s, ',', absl::SkipEmpty()))
      out.emplace_back(p);
    return out;
  };
  if (!ciphers.empty()) options.ciphers = split(ciphers);
  if (!kex.empty()) options.kex_algorithms = split(kex);
  if (!macs.empty()) options.macs = split(macs);
  if (rekey_bytes > 0) options.rekey_bytes = rekey_bytes;
  if (rekey_seconds > 0) options.rekey_interval = absl::Seconds(rekey_seconds);
  if (login_grace_seconds > 0)
    options.login_grace_time = absl::Seconds(login_grace_seconds);
  return absl::OkStatus();
}

}  // namespace sallyport::ssh::examples
