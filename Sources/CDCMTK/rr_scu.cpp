#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"

#include "rr_scu_internal.h"
#include "rr_tls_internal.h"

#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct rr_scu {
    std::string host;
    uint16_t port = 0;
    std::string callingAE;
    std::string calledAE;
    int32_t connectTimeout = 0;
    int32_t acseTimeout = 0;
    int32_t dimseTimeout = 0;
    uint32_t maxPDU = 0;
    T_ASC_Network *network = nullptr;
    T_ASC_Association *association = nullptr;
    /// Issue 5: outbound DICOM TLS (rr_tls.cpp); off unless rr_scu_set_tls was called.
    rr::ClientTLS tls;
};

namespace {

/// PS3.8 §9.3.1: a context ID is odd, 1–255, so one association holds at most 128 contexts.
constexpr std::size_t maximumContexts = 128;

void destroyAssociation(rr_scu *scu) {
    if (scu->association == nullptr) return;
    ASC_destroyAssociation(&scu->association);  // drops the connection and frees the parameters
    scu->association = nullptr;
}

/// A-ABORT-PDU (PS3.8 §9.3.8): type 07, length 4, source 0 (service user), reason 0.
constexpr unsigned char abortPDU[10] = {0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00};

/// Ends the association at once. DUL_AbortAssociation would wait for the peer to close the
/// connection (up to the ACSE timeout, PS3.8 Sta13), and a peer that just timed out will not;
/// so write the A-ABORT PDU ourselves, unless our own stream may stop mid-PDU (a failed write),
/// and drop the connection.
void abortAssociation(rr_scu *scu, bool sendAbortPDU = true) {
    if (scu->association == nullptr) return;
    if (sendAbortPDU && scu->association->DULassociation != nullptr) {
        DcmTransportConnection *connection = DUL_getTransportConnection(scu->association->DULassociation);
        unsigned char pdu[sizeof abortPDU];
        std::memcpy(pdu, abortPDU, sizeof pdu);
        if (connection != nullptr) connection->write(pdu, sizeof pdu);
    }
    destroyAssociation(scu);
}

/// Whether the outgoing stream is still at a PDU boundary after this failure (only a failed
/// socket write can leave it mid-PDU) and the connection is still there to carry an A-ABORT.
bool canSendAbortAfter(const OFCondition &condition) {
    const rr::ConditionCode code = rr::innermostCondition(condition);
    if (code.module != OFM_dcmnet) return true;
    return code.code != DULC_TCPIOERROR && code.code != DULC_NETWORKCLOSED && code.code != DULC_PEERABORTEDASSOCIATION;
}

/// DcmTransportConnection::getSocket is protected; a member pointer taken in a derived class's
/// scope may legally be applied to any connection object.
struct SocketAccess : DcmTransportConnection {
    static DcmNativeSocketType socketOf(DcmTransportConnection *connection) {
        return (connection->*(&SocketAccess::getSocket))();
    }
};

/// DCMTK bounds reads with timeouts but writes block forever when the peer stops reading;
/// a send timeout on the socket turns that stall into an error.
void applySendTimeout(T_ASC_Association *association, int32_t seconds) {
    if (seconds <= 0 || association->DULassociation == nullptr) return;
    DcmTransportConnection *connection = DUL_getTransportConnection(association->DULassociation);
    if (connection == nullptr) return;
    struct timeval timeout {};
    timeout.tv_sec = seconds;
    setsockopt(SocketAccess::socketOf(connection), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

/// True when a dataset stored in `from` can be written in the uncompressed syntax `to`.
bool canConvert(E_TransferSyntax from, E_TransferSyntax to) {
    if (from == EXS_Unknown) return false;
    if (DcmXfer(from).isNotEncapsulated()) return true;
    return DcmCodecList::canChangeCoding(from, to);
}

/// Picks the accepted context for the class: the object's own syntax first, else Explicit then
/// Implicit VR Little Endian when conversion is possible. Returns 0 when none fits.
T_ASC_PresentationContextID findContext(T_ASC_Association *association, const char *sopClass,
                                        const char *transferSyntax, E_TransferSyntax *acceptedSyntax) {
    T_ASC_Parameters *parameters = association->params;
    const E_TransferSyntax source = DcmXfer(transferSyntax).getXfer();
    T_ASC_PresentationContextID explicitID = 0;
    T_ASC_PresentationContextID implicitID = 0;
    const int count = ASC_countPresentationContexts(parameters);
    for (int index = 0; index < count; index++) {
        T_ASC_PresentationContext context;
        if (ASC_getPresentationContext(parameters, index, &context).bad()) continue;
        if (context.resultReason != ASC_P_ACCEPTANCE) continue;
        if (std::strcmp(context.abstractSyntax, sopClass) != 0) continue;
        if (std::strcmp(context.acceptedTransferSyntax, transferSyntax) == 0) {
            *acceptedSyntax = source;
            return context.presentationContextID;
        }
        const E_TransferSyntax accepted = DcmXfer(context.acceptedTransferSyntax).getXfer();
        if (accepted == EXS_LittleEndianExplicit && explicitID == 0) explicitID = context.presentationContextID;
        if (accepted == EXS_LittleEndianImplicit && implicitID == 0) implicitID = context.presentationContextID;
    }
    if (explicitID != 0 && canConvert(source, EXS_LittleEndianExplicit)) {
        *acceptedSyntax = EXS_LittleEndianExplicit;
        return explicitID;
    }
    if (implicitID != 0 && canConvert(source, EXS_LittleEndianImplicit)) {
        *acceptedSyntax = EXS_LittleEndianImplicit;
        return implicitID;
    }
    return 0;
}

/// Bridges DIMSE's cumulative progress to the caller's per-call byte counts.
struct ProgressBridge {
    rr_progress_fn function;
    void *context;
    long reported;
};

void storeProgress(void *data, T_DIMSE_StoreProgress *progress, T_DIMSE_C_StoreRQ * /*request*/) {
    auto *bridge = static_cast<ProgressBridge *>(data);
    if (progress->progressBytes <= bridge->reported) return;
    const long delta = progress->progressBytes - bridge->reported;
    bridge->reported = progress->progressBytes;
    bridge->function(bridge->context, static_cast<uint64_t>(delta));
}

/// Builds the association parameters with one transfer syntax per context.
OFCondition buildParameters(rr_scu *scu, const rr_presentation_context *contexts, std::size_t count,
                            T_ASC_Parameters **parameters) {
    OFCondition condition = ASC_createAssociationParameters(parameters, long(scu->maxPDU));
    if (condition.bad()) return condition;
    ASC_setAPTitles(*parameters, scu->callingAE.c_str(), scu->calledAE.c_str(), nullptr);
    char localHost[256] = "localhost";
    gethostname(localHost, sizeof localHost - 1);
    const std::string peer = scu->host + ":" + std::to_string(scu->port);
    condition = ASC_setPresentationAddresses(*parameters, localHost, peer.c_str());
    for (std::size_t index = 0; condition.good() && index < count; index++) {
        const char *syntaxes[1] = {contexts[index].transfer_syntax};
        const auto identifier = static_cast<T_ASC_PresentationContextID>(2 * index + 1);
        condition = ASC_addPresentationContext(*parameters, identifier, contexts[index].abstract_syntax, syntaxes, 1);
    }
    return condition;
}

// MARK: - Results of the rr_net_result entry points

/// Sets `result` to `kind` with a constant message and returns the kind (what the entry point returns).
int fail(rr_net_result *result, rr_net_kind kind, const char *message) {
    rr::failResult(result, kind, message);
    return result->kind;
}

/// Sets `result` to `kind` with the condition's text and returns the kind.
int fail(rr_net_result *result, rr_net_kind kind, const OFCondition &condition) {
    rr::failResult(result, kind, condition);
    return result->kind;
}

/// A DIMSE exchange (or the A-RELEASE) on an open association failed: classifies the failure and
/// aborts the association, since half a message may be on the wire and it cannot carry anything
/// else. Returns the kind.
int failExchange(rr_scu *scu, const OFCondition &condition, rr_net_result *result) {
    rr::failResult(result, rr::classifyExchangeFailure(condition), condition);
    abortAssociation(scu, canSendAbortAfter(condition));
    return result->kind;
}

/// Called from an entry point's `catch (...)`: an exception left the association in an unknown
/// state, so it is aborted; the result is RR_NET_LOCAL with the exception's message.
int failWithException(rr_scu *scu, rr_net_result *result) {
    abortAssociation(scu);
    result->kind = RR_NET_LOCAL;
    rr::setExceptionError(&result->error);
    return result->kind;
}

/// The remote answered: RR_NET_OK with its DIMSE status (success or not, the caller classifies).
int succeedWithStatus(rr_net_result *result, uint16_t status) {
    result->has_status = 1;
    result->status = status;
    return RR_NET_OK;
}

}  // namespace

rr_scu *rr_scu_create(const rr_scu_config *config, rr_error *error) {
    rr::clearError(error);
    try {
        auto *scu = new rr_scu();
        scu->host = config->host != nullptr ? config->host : "";
        scu->port = config->port;
        scu->callingAE = config->calling_ae != nullptr ? config->calling_ae : "";
        scu->calledAE = config->called_ae != nullptr ? config->called_ae : "";
        scu->connectTimeout = config->connect_timeout;
        scu->acseTimeout = config->acse_timeout;
        scu->dimseTimeout = config->dimse_timeout;
        scu->maxPDU = config->max_pdu;
        return scu;
    } catch (...) {
        rr::setExceptionError(error);
        return nullptr;
    }
}

void rr_scu_destroy(rr_scu *scu) {
    if (scu == nullptr) return;
    try {
        abortAssociation(scu);
        if (scu->network != nullptr) ASC_dropNetwork(&scu->network);
        delete scu;
    } catch (...) {
    }
}

int rr_scu_is_associated(const rr_scu *scu) {
    return scu != nullptr && scu->association != nullptr ? 1 : 0;
}

int rr_scu_drop_if_peer_closed(rr_scu *scu) {
    try {
        if (scu == nullptr || scu->association == nullptr) return 0;
        if (ASC_dataWaiting(scu->association, 0)) abortAssociation(scu);
        return scu->association != nullptr ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

int rr_scu_associate(rr_scu *scu, const rr_presentation_context *contexts, size_t count,
                     rr_net_result *result) {
    rr::resetResult(result);
    try {
        if (scu->association != nullptr) {
            return fail(result, RR_NET_LOCAL, "an association is already open");
        }
        if (count == 0 || count > maximumContexts) {
            return fail(result, RR_NET_LOCAL, "between 1 and 128 presentation contexts are required");
        }
        OFCondition condition = EC_Normal;
        if (scu->network == nullptr) {
            condition = ASC_initializeNetwork(NET_REQUESTOR, 0, scu->acseTimeout, &scu->network);
            if (condition.bad()) {
                return fail(result, RR_NET_LOCAL, condition);
            }
        }
        T_ASC_Parameters *parameters = nullptr;
        condition = buildParameters(scu, contexts, count, &parameters);
        if (condition.bad()) {
            if (parameters != nullptr) ASC_destroyAssociationParameters(&parameters);
            return fail(result, RR_NET_LOCAL, condition);
        }
        if (scu->tls.enabled()) {
            const int32_t tlsTimeout = scu->acseTimeout > scu->dimseTimeout ? scu->acseTimeout : scu->dimseTimeout;
            if (!scu->tls.prepare(scu->network, parameters, scu->host, tlsTimeout, result)) {
                ASC_destroyAssociationParameters(&parameters);
                return result->kind;
            }
        }
        // DCMTK 3.6.7 reads the connect timeout from this process-wide global at connect time;
        // senders with different values can race here, the worst case being another sender's value.
        dcmConnectionTimeout.set(scu->connectTimeout);
        T_ASC_Association *association = nullptr;
        condition = ASC_requestAssociation(scu->network, parameters, &association);
        if (condition.bad()) {
            if (condition == DUL_ASSOCIATIONREJECTED) {
                T_ASC_RejectParameters reject;
                ASC_getRejectParameters(parameters, &reject);
                result->reject_result = static_cast<uint8_t>(reject.result);
                result->reject_source = static_cast<uint8_t>(reject.source);
                result->reject_reason = static_cast<uint8_t>(reject.reason & 0xff);  // DUL codes source<<8
                rr::failResult(result, RR_NET_REJECTED, condition);
            } else if (!scu->tls.enabled() || !scu->tls.explainFailure(condition, result)) {
                rr::failResult(result, rr::classifyAssociateFailure(condition), condition);
            }
            if (association != nullptr) ASC_destroyAssociation(&association);  // frees parameters too
            else ASC_destroyAssociationParameters(&parameters);
            return result->kind;
        }
        scu->association = association;
        if (ASC_countAcceptedPresentationContexts(parameters) == 0) {
            ASC_releaseAssociation(association);
            destroyAssociation(scu);
            return fail(result, RR_NET_NO_CONTEXT, "no presentation context accepted");
        }
        applySendTimeout(association, scu->dimseTimeout);
        return RR_NET_OK;
    } catch (...) {
        return failWithException(scu, result);
    }
}

int rr_scu_can_send(rr_scu *scu, const char *sop_class_uid, const char *transfer_syntax_uid) {
    try {
        if (scu == nullptr || scu->association == nullptr) return 0;
        E_TransferSyntax accepted = EXS_Unknown;
        return findContext(scu->association, sop_class_uid, transfer_syntax_uid, &accepted) != 0 ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

int rr_scu_store(rr_scu *scu, const char *path, const char *sop_class_uid,
                 const char *sop_instance_uid, rr_progress_fn progress, void *context,
                 rr_net_result *result) {
    rr::resetResult(result);
    try {
        if (scu->association == nullptr) return fail(result, RR_NET_LOCAL, "no association is open");
        // Default (lazy) loading: large values stream from the file while they are sent.
        DcmFileFormat file;
        OFCondition condition = file.loadFile(path);
        if (condition.bad()) {
            return fail(result, RR_NET_LOCAL, condition);
        }
        DcmDataset *dataset = file.getDataset();
        OFString sopClass;
        OFString sopInstance;
        dataset->findAndGetOFString(DCM_SOPClassUID, sopClass);
        dataset->findAndGetOFString(DCM_SOPInstanceUID, sopInstance);
        if (sopClass != sop_class_uid || sopInstance != sop_instance_uid) {
            return fail(result, RR_NET_LOCAL, "the file's SOP class or instance differs from the object's");
        }
        const E_TransferSyntax stored = dataset->getOriginalXfer();
        E_TransferSyntax accepted = EXS_Unknown;
        const T_ASC_PresentationContextID contextID =
            findContext(scu->association, sop_class_uid, DcmXfer(stored).getXferID(), &accepted);
        if (contextID == 0) return fail(result, RR_NET_NO_CONTEXT, "no presentation context accepted");
        if (accepted != stored) {
            dataset->chooseRepresentation(accepted, nullptr);
            if (!dataset->canWriteXfer(accepted)) {
                return fail(result, RR_NET_LOCAL, "cannot convert to the accepted transfer syntax");
            }
        }
        T_DIMSE_C_StoreRQ request;
        std::memset(&request, 0, sizeof request);
        request.MessageID = scu->association->nextMsgID++;
        OFStandard::strlcpy(request.AffectedSOPClassUID, sop_class_uid, sizeof request.AffectedSOPClassUID);
        OFStandard::strlcpy(request.AffectedSOPInstanceUID, sop_instance_uid, sizeof request.AffectedSOPInstanceUID);
        request.DataSetType = DIMSE_DATASET_PRESENT;
        request.Priority = DIMSE_PRIORITY_MEDIUM;
        T_DIMSE_C_StoreRSP response;
        std::memset(&response, 0, sizeof response);
        DcmDataset *statusDetail = nullptr;
        ProgressBridge bridge{progress, context, 0};
        condition = DIMSE_storeUser(scu->association, contextID, &request, nullptr, dataset,
                                    progress != nullptr ? storeProgress : nullptr, &bridge, DIMSE_NONBLOCKING,
                                    scu->dimseTimeout, &response, &statusDetail);
        delete statusDetail;
        if (condition.bad()) return failExchange(scu, condition, result);
        return succeedWithStatus(result, response.DimseStatus);
    } catch (...) {
        return failWithException(scu, result);
    }
}

int rr_scu_echo(rr_scu *scu, rr_net_result *result) {
    rr::resetResult(result);
    try {
        if (scu->association == nullptr) return fail(result, RR_NET_LOCAL, "no association is open");
        const T_ASC_PresentationContextID contextID =
            ASC_findAcceptedPresentationContextID(scu->association, UID_VerificationSOPClass);
        if (contextID == 0) return fail(result, RR_NET_NO_CONTEXT, "no presentation context accepted");
        DIC_US status = 0;
        DcmDataset *statusDetail = nullptr;
        const OFCondition condition = DIMSE_echoUser(scu->association, scu->association->nextMsgID++,
                                                     DIMSE_NONBLOCKING, scu->dimseTimeout, &status, &statusDetail);
        delete statusDetail;
        if (condition.bad()) return failExchange(scu, condition, result);
        return succeedWithStatus(result, status);
    } catch (...) {
        return failWithException(scu, result);
    }
}

int rr_scu_release(rr_scu *scu, rr_net_result *result) {
    rr::resetResult(result);
    try {
        if (scu->association == nullptr) return RR_NET_OK;
        const OFCondition condition = ASC_releaseAssociation(scu->association);
        if (condition.bad()) return failExchange(scu, condition, result);
        destroyAssociation(scu);
        return result->kind;
    } catch (...) {
        return failWithException(scu, result);
    }
}

void rr_scu_abort(rr_scu *scu) {
    if (scu == nullptr) return;
    try {
        abortAssociation(scu);
    } catch (...) {
    }
}

int rr_scu_set_tls(rr_scu *scu, const rr_tls_client_config *config, rr_error *error) {
    rr::clearError(error);
    try {
        scu->tls.configure(config);
        return 0;
    } catch (...) {
        rr::setExceptionError(error);
        return 1;
    }
}
