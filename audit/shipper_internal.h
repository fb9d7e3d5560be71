// Private to //audit:shipper: what shipper.cc (the passes and backoff),
// shipper_spool.cc (reading and closing a spool file) and
// shipper_upload.cc (shipping one session) share. Not part of the public
// API.
#ifndef SALLYPORT_AUDIT_SHIPPER_INTERNAL_H_
#define SALLYPORT_AUDIT_SHIPPER_INTERNAL_H_

#include <cstdint>
#include <string>

namespace sallyport::audit::shipper_internal {

// The size of the file at `path`; -1 when it cannot be stat'd.
int64_t FileSize(const std::string& path);

}  // namespace sallyport::audit::shipper_internal

#endif  // SALLYPORT_AUDIT_SHIPPER_INTERNAL_H_
