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

// spctl `sessions show|play|export|verify` read at most this many pages
// of one recording (ReadSession), so that a CA, or what answers as one,
// that keeps naming a next page cannot keep them reading for good. They
// hold one page at a time, whatever the recording's size, so this bounds
// the time spent, not memory. A recording has no size limit of its own (a
// session lasts as long as its connection); the CA fills a page up to the
// 1000 records spctl asks for or 2 MiB (ca/audit_service.h
// kMaxReadSessionPageBytes), so this is a recording of over 10^9 records
// or 2 TiB: a terminal printing 20 MB/s for a day is 1.7 TB.
inline constexpr size_t kMaxRecordingPages = size_t{1} << 20;

// spctl `audit ls|export|verify` read at most this many pages of the
// audit log (ListAuditEvents), one at a time, as kMaxRecordingPages. The
// log only grows (verify reads it from its first event); at 1000 events a
// page, as spctl asks, this is over 10^9 events: 100000 events a day for
// 28 years.
inline constexpr size_t kMaxAuditLogPages = size_t{1} << 20;

// `sp ls`, `sp config` and `sp ssh` read at most this many of the hosts
// ListMyHosts pages through (ssh_config stays a file ssh reads quickly),
// and say so when the CA lists more.
inline constexpr size_t kMaxListedHosts = 10000;

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_RPC_LIMITS_H_
