#include "cli/tls_pin.h"

#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/ca_client.h"
#include "cli/terminal.h"

namespace sallyport::cli {

std::string ChangedCertificateWarning(std::string_view ca,
                                      std::string_view pinned_fingerprint,
                                      std::string_view presented_fingerprint,
                                      std::string_view pin_path) {
  return absl::StrCat(
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
      "@     WARNING: SALLYPORT CA CERTIFICATE HAS CHANGED!      @\n"
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
      "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
      "Someone could be eavesdropping on you right now (man-in-the-middle "
      "attack)!\n"
      "It is also possible that the CA's TLS certificate has just been "
      "changed.\n"
      "The CA at ",
      std::string(ca), " presented a TLS certificate with fingerprint\n    ",
      std::string(presented_fingerprint),
      "\nbut the certificate pinned at your first login has fingerprint\n    ",
      std::string(pinned_fingerprint),
      "\nPlease contact your system administrator.\n"
      "Pinned certificate: ",
      std::string(pin_path),
      "\nRemove it only if you know the change is legitimate.\n"
      "Login refused: the CA's certificate has changed.\n");
}

std::optional<bool> ParseYesNo(std::string_view answer) {
  const std::string a = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      absl::string_view(answer.data(), answer.size())));
  if (a == "y" || a == "yes") return true;
  if (a == "n" || a == "no") return false;
  return std::nullopt;
}

absl::StatusOr<bool> AskYesNo(
    const std::function<absl::StatusOr<std::string>()>& ask,
    std::ostream& out) {
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<std::string> answer = ask();
    if (!answer.ok()) return answer.status();
    if (std::optional<bool> yes = ParseYesNo(*answer)) return *yes;
    out << "Please type 'yes' or 'no'.\n";
    out.flush();
  }
  return false;
}

absl::StatusOr<TrustedCa> TrustCa(const SpHome& home,
                                  const std::vector<HostPort>& cas,
                                  const std::string& ca_text,
                                  const std::string& expected,
                                  std::ostream& out, std::ostream& err) {
  absl::StatusOr<ServerCertificate> presented =
      absl::UnavailableError("no address");
  std::vector<std::string> failures;
  for (const HostPort& ca : cas) {
    presented = FetchServerCertificate(ca, kCaTlsName);
    if (presented.ok()) break;
    failures.push_back(
        absl::StrCat(GrpcTarget(ca), ": ", presented.status().message()));
  }
  if (!presented.ok()) {
    err << "sp: cannot reach the CA at " << ca_text;
    if (cas.size() == 1) {
      err << ": " << presented.status().message() << "\n";
    } else {
      err << " (tried every address):\n    "
          << absl::StrJoin(failures, "\n    ") << "\n";
    }
    return absl::UnavailableError("unreachable");
  }
  absl::StatusOr<std::string> pinned = ReadTextFile(home.ca_pem());
  if (!pinned.ok() && pinned.status().code() != absl::StatusCode::kNotFound) {
    err << "sp: " << pinned.status().message() << "\n";
    return pinned.status();
  }
  if (pinned.ok()) {
    absl::StatusOr<std::string> pinned_fp = PemFingerprint(*pinned);
    if (!pinned_fp.ok() || *pinned_fp != presented->fingerprint) {
      err << ChangedCertificateWarning(
          ca_text, pinned_fp.ok() ? *pinned_fp : "(unreadable pin)",
          presented->fingerprint, home.ca_pem());
      return absl::PermissionDeniedError("changed");
    }
  }
  // A fingerprint the user gave is checked whether or not there is a pin:
  // they asked for that certificate and no other.
  if (!expected.empty() && !SameFingerprint(expected, presented->fingerprint)) {
    err << "sp: the CA at " << ca_text
        << " presented a TLS certificate with fingerprint\n    "
        << presented->fingerprint << "\nnot the expected\n    " << expected
        << "\n";
    if (pinned.ok()) {
      err << "It is the certificate pinned in " << home.ca_pem()
          << "\nat your first login: --ca-fingerprint names another one, and "
             "sp never\nreplaces a pin. Check the fingerprint you were "
             "given.\n";
    }
    err << "Login refused.\n";
    return absl::PermissionDeniedError("mismatch");
  }
  if (pinned.ok()) return TrustedCa{*pinned, /*first_contact=*/false};
  // First contact.
  if (expected.empty()) {
    out << "The CA at " << ca_text
        << " presents a TLS certificate with fingerprint\n    "
        << presented->fingerprint << "\n";
    out.flush();
    absl::StatusOr<bool> answer = AskYesNo(
        [] {
          return PromptLine("Are you sure you want to trust it (yes/no)? ");
        },
        out);
    if (!answer.ok()) {
      err << "sp: cannot ask you to confirm the CA's fingerprint (no "
             "terminal); pass --ca-fingerprint\n";
      return answer.status();
    }
    if (!*answer) {
      err << "sp: the CA's certificate was not trusted; login cancelled\n";
      return absl::CancelledError("not trusted");
    }
  }
  return TrustedCa{presented->pem, /*first_contact=*/true};
}

absl::Status PinCa(const SpHome& home, const TrustedCa& ca, std::ostream& out) {
  if (!ca.first_contact) return absl::OkStatus();
  if (absl::Status st = WriteFileAtomic(home.ca_pem(), ca.pem, 0644);
      !st.ok()) {
    return st;
  }
  out << "Pinned the CA's certificate in " << home.ca_pem() << "\n";
  return absl::OkStatus();
}

}  // namespace sallyport::cli
