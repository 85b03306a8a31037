// Internal to the SCU part of the shim: how DCMTK conditions become rr_net_kind values.
#ifndef RR_SCU_INTERNAL_H
#define RR_SCU_INTERNAL_H

#include "rr_internal.h"

namespace rr {

/// The module and code of the innermost condition DCMTK wrapped with DimseCondition::push.
struct ConditionCode {
    unsigned short module;
    unsigned short code;
};

/// Finds the innermost wrapped condition ("\nMMMM:CCCC " lines in the text), else the condition.
ConditionCode innermostCondition(const OFCondition &condition);

/// Classifies a failure of ASC_requestAssociation other than A-ASSOCIATE-RJ.
rr_net_kind classifyAssociateFailure(const OFCondition &condition);

/// Classifies a failed DIMSE exchange on an established association.
rr_net_kind classifyExchangeFailure(const OFCondition &condition);

/// Resets a result to RR_NET_OK with no status.
void resetResult(rr_net_result *result);

/// Sets kind and error from a condition.
void failResult(rr_net_result *result, rr_net_kind kind, const OFCondition &condition);

/// Sets kind and a constant message.
void failResult(rr_net_result *result, rr_net_kind kind, const char *message);

}  // namespace rr

#endif
