// A count with its noun, in the singular for exactly one: "1 session",
// "2 sessions", "0 sessions", for messages and log lines that say how many
// of something there are.
#ifndef SALLYPORT_BASE_PLURAL_H_
#define SALLYPORT_BASE_PLURAL_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace sallyport::base {

// "COUNT NOUN": `noun` (the singular) when `count` is 1, else `plural`, or
// `noun` with "s" added when `plural` is empty ("entry", "entries").
std::string Plural(uint64_t count, std::string_view noun,
                   std::string_view plural = "");

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_PLURAL_H_
