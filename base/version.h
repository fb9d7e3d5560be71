// The Sallyport release version, printed by `--version` of every binary
// and used as the .deb version by deploy/build-deb.sh.
#ifndef SALLYPORT_BASE_VERSION_H_
#define SALLYPORT_BASE_VERSION_H_

namespace sallyport::base {

inline constexpr char kVersion[] = "0.1.0";

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_VERSION_H_
