#include "cli/qr_terminal.h"

#include <qrencode.h>

#include <memory>

namespace sallyport::cli {

absl::StatusOr<std::string> TerminalQrCode(std::string_view text) {
  const std::string s(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(s.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
      &QRcode_free);
  if (qr == nullptr) {
    return absl::InvalidArgumentError("the text does not fit in a QR code");
  }
  constexpr int kQuiet = 2;
  const int w = qr->width;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= w || y >= w) return false;
    return (qr->data[y * w + x] & 1) != 0;
  };
  std::string out;
  for (int y = -kQuiet; y < w + kQuiet; y += 2) {
    for (int x = -kQuiet; x < w + kQuiet; ++x) {
      const bool top_light = !dark(x, y);
      const bool bottom_light = y + 1 < w + kQuiet && !dark(x, y + 1);
      if (top_light && bottom_light) {
        out += "\u2588";
      } else if (top_light) {
        out += "\u2580";
      } else if (bottom_light) {
        out += "\u2584";
      } else {
        out += " ";
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace sallyport::cli
