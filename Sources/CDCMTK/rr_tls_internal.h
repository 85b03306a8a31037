// Internal to the shim: outbound DICOM TLS for rr_scu (rr_tls.cpp). Not part of the C header.
#ifndef RR_TLS_INTERNAL_H
#define RR_TLS_INTERNAL_H

#include "rr_internal.h"

#include "dcmtk/dcmnet/assoc.h"

#include <memory>
#include <string>

class DcmTransportLayer;

namespace rr {

/// One destination's TLS settings and the transport layer of its current association.
/// A fresh layer (files read again) is made for every association, so rotated certificates,
/// keys and CA bundles take effect at the next association without a restart.
class ClientTLS {
public:
    ClientTLS();
    ~ClientTLS();

    /// Copies the settings; TLS is on from now on.
    void configure(const rr_tls_client_config *config);

    bool enabled() const { return enabled_; }

    /// Makes a new layer for `host`, installs it on the network and marks the parameters as
    /// secure. False (with result filled as RR_NET_TLS) when the files cannot be used.
    bool prepare(T_ASC_Network *network, T_ASC_Parameters *parameters, const std::string &host,
                 int32_t timeoutSeconds, rr_net_result *result);

    /// After a failed ASC_requestAssociation: true when the failure was the TLS handshake (then
    /// result is RR_NET_TLS with the verification error, when OpenSSL reported one).
    bool explainFailure(const OFCondition &condition, rr_net_result *result);

private:
    bool enabled_ = false;
    std::string ca_;
    std::string certificate_;
    std::string privateKey_;
    std::string serverName_;
    bool verifyHost_ = true;
    std::unique_ptr<DcmTransportLayer> layer_;
};

}  // namespace rr

#endif
