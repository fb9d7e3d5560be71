#include "cli/tls_pin.h"

#include "absl/strings/str_cat.h"

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

}  // namespace sallyport::cli
