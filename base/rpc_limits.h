// The sizes of the CA's answers, shared by the CA and its clients (sp,
// spctl, the gateway): every listing a user or an admin can grow is
// answered in pages that fit what a client takes in one message.
#ifndef SALLYPORT_BASE_RPC_LIMITS_H_
#define SALLYPORT_BASE_RPC_LIMITS_H_

#include <cstddef>

namespace sallyport::base {

// The largest message a client of the CA takes (gRPC's default, set by
// FailoverChannel on every channel to the CA so that it is this one).
inline constexpr int kMaxCaResponseBytes = 4 << 20;

// A page of a CA listing (admin.ListHosts, ListMyHosts) holds entries up
// to this many encoded bytes, and always at least one: the CA's input
// limits keep one entry far below kMaxCaResponseBytes, so every page fits.
inline constexpr size_t kMaxListPageBytes = 1 << 20;

// The most entries a page of such a listing holds (a page_size of 0 or
// more is taken as this).
inline constexpr size_t kMaxListPageEntries = 1000;

// sp and spctl read at most this many pages of one listing (ListMyHosts,
// ListRevocations, admin.ListHosts, ListUsers, ListRoles): a CA, or what
// answers as one, that keeps naming a next page cannot keep them asking
// for good. With kMaxListPageEntries a page, far more than any listing
// holds.
inline constexpr size_t kMaxListPages = 1000;

// `sp ls`, `sp config` and `sp ssh` read at most this many of the hosts
// ListMyHosts pages through (ssh_config stays a file ssh reads quickly),
// and say so when the CA lists more.
inline constexpr size_t kMaxListedHosts = 10000;

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_RPC_LIMITS_H_
