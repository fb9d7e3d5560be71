#include "base/plural.h"

namespace sallyport::base {

std::string Plural(uint64_t count, std::string_view noun,
                   std::string_view plural) {
  std::string out = std::to_string(count);
  out.push_back(' ');
  if (count == 1) {
    out.append(noun);
  } else if (!plural.empty()) {
    out.append(plural);
  } else {
    out.append(noun);
    out.push_back('s');
  }
  return out;
}

}  // namespace sallyport::base
