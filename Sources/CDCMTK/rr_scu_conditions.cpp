#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcerror.h"
#include "dcmtk/dcmnet/cond.h"

#include "rr_scu_internal.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rr {

namespace {

bool parseHex4(const char *text, unsigned short &value) {
    unsigned int result = 0;
    for (int index = 0; index < 4; index++) {
        const char c = text[index];
        unsigned int digit;
        if (c >= '0' && c <= '9') digit = unsigned(c - '0');
        else if (c >= 'a' && c <= 'f') digit = unsigned(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = unsigned(c - 'A' + 10);
        else return false;
        result = result * 16 + digit;
    }
    value = static_cast<unsigned short>(result);
    return true;
}

bool isDcmnet(const ConditionCode &code, unsigned short value) {
    return code.module == OFM_dcmnet && code.code == value;
}

/// DCMTK reports a write that SO_SNDTIMEO interrupted as a TCP I/O error carrying strerror(EAGAIN).
bool isSendTimeout(const OFCondition &condition) {
    const char *text = condition.text();
    return text != nullptr && std::strstr(text, std::strerror(EAGAIN)) != nullptr;
}

}  // namespace

ConditionCode innermostCondition(const OFCondition &condition) {
    ConditionCode result{condition.module(), condition.code()};
    const char *text = condition.text();
    if (text == nullptr) return result;
    // DimseCondition::push (dcmnet/libsrc/cond.cc) formats "outer text\nMMMM:CCCC inner text".
    for (const char *line = std::strchr(text, '\n'); line != nullptr; line = std::strchr(line + 1, '\n')) {
        unsigned short module = 0;
        unsigned short code = 0;
        if (std::strlen(line) >= 11 && parseHex4(line + 1, module) && line[5] == ':' &&
            parseHex4(line + 6, code) && line[10] == ' ') {
            result = ConditionCode{module, code};
        }
    }
    return result;
}

rr_net_kind classifyAssociateFailure(const OFCondition &condition) {
    const ConditionCode code = innermostCondition(condition);
    if (isDcmnet(code, DULC_TCPINITERROR)) {
        // requestAssociationTCP appends exactly this marker when its connect timeout expires.
        const char *text = condition.text();
        return text != nullptr && std::strstr(text, "(Timeout)") != nullptr ? RR_NET_TIMEOUT : RR_NET_CONNECTION;
    }
    if (isDcmnet(code, DULC_READTIMEOUT)) return RR_NET_TIMEOUT;
    if (isDcmnet(code, DULC_PEERABORTEDASSOCIATION)) return RR_NET_ABORTED;
    if (isDcmnet(code, DULC_TCPIOERROR) && isSendTimeout(condition)) return RR_NET_TIMEOUT;
    return RR_NET_CONNECTION;
}

rr_net_kind classifyExchangeFailure(const OFCondition &condition) {
    const ConditionCode code = innermostCondition(condition);
    if (condition == DIMSE_NODATAAVAILABLE || isDcmnet(code, DULC_READTIMEOUT)) return RR_NET_TIMEOUT;
    if (isDcmnet(code, DULC_TCPIOERROR) && isSendTimeout(condition)) return RR_NET_TIMEOUT;
    // A value that cannot be read back from the spool file mid-send is our problem, not the peer's.
    if (code.module == OFM_dcmdata) return RR_NET_LOCAL;
    return RR_NET_ABORTED;
}

void resetResult(rr_net_result *result) {
    result->kind = RR_NET_OK;
    result->has_status = 0;
    result->status = 0;
    result->reject_result = 0;
    result->reject_source = 0;
    result->reject_reason = 0;
    clearError(&result->error);
}

void failResult(rr_net_result *result, rr_net_kind kind, const OFCondition &condition) {
    result->kind = kind;
    setError(&result->error, condition);
}

void failResult(rr_net_result *result, rr_net_kind kind, const char *message) {
    result->kind = kind;
    setError(&result->error, message);
}

}  // namespace rr
