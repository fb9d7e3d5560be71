// The event log moved to //audit (audit/audit_log.h, audit/events.h); the
// CA's code keeps using these names in namespace ca.
#ifndef SALLYPORT_CA_AUDIT_LOG_H_
#define SALLYPORT_CA_AUDIT_LOG_H_

#include "audit/audit_log.h"
#include "audit/events.h"

namespace sallyport::ca {

using audit::AuditField;
using audit::AuditLog;
using audit::AuditPayloadJson;
using audit::AuditValue;
using audit::EventLine;
using audit::kEventAccessDenied;
using audit::kEventAdminDenied;
using audit::kEventCaInitialised;
using audit::kEventCaKeyRetired;
using audit::kEventCertIssued;
using audit::kEventCertRefused;
using audit::kEventLoginFailed;
using audit::kEventLoginLocked;
using audit::kEventLoginOk;
using audit::kEventUserUnlocked;
using audit::LogFormat;

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_AUDIT_LOG_H_
