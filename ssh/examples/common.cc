#include "ssh/examples/common.h"

#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "ssh/cert/certificate.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::examples {

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Log(std::string_view line) {
  std::cerr << program_invocation_short_name << ": " << line << std::endl;
}

std::string SafeText(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 256)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    }
  }
  return out;
}

std::string DescribeAlgorithms(const transport::Transport& t) {
  const auto& a = t.algorithms();
  std::string mac = a.mac_c2s.empty() ? "<implicit>" : a.mac_c2s;
  return absl::StrCat("kex=", a.kex, " hostkey=", a.host_key,
                      " cipher=", a.cipher_c2s, " mac=", mac,
                      " strict-kex=", t.strict_kex() ? "yes" : "no",
                      " peer=", SafeText(t.peer_version()));
}

namespace {

constexpr std::pair<const char*, int> kSignals[] = {
    {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"FPE", SIGFPE},   {"HUP", SIGHUP},
    {"ILL", SIGILL},   {"INT", SIGINT},   {"KILL", SIGKILL}, {"PIPE", SIGPIPE},
    {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2},
};

}  // namespace

int SignalNumber(std::string_view name) {
  for (const auto& [n, sig] : kSignals) {
    if (name == n) return sig;
  }
  return 0;
}

std::string SignalName(int signal_number) {
  for (const auto& [n, sig] : kSignals) {
    if (sig == signal_number) return n;
  }
  return "SIG@openssh.com";
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

absl::StatusOr<std::vector<uint8_t>> LoadCertificateBlob(
    const std::string& path, const std::optional<crypto::PublicKey>& key) {
  std::string text = ReadTextFile(path);
  if (text.empty()) return absl::NotFoundError("cannot read certificate file");
  auto certificate = cert::Certificate::FromLine(
      std::string(absl::StripAsciiWhitespace(text)));
  if (!certificate.ok()) return certificate.status();
  if (key.has_value() && certificate->key != *key) {
    return absl::InvalidArgumentError(
        "the certificate is not for this private key");
  }
  return certificate->blob;
}

}  // namespace sallyport::ssh::examples
