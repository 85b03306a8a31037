// Outbound DICOM TLS (PS3.15 B.1, BCP 195 non-downgrading profile) for rr_scu.
//
// Why this file exists: DCMTK 3.6.7's DcmTLSTransportLayer verifies the peer's chain but checks
// no host name and sends no SNI. RRClientTLSLayer makes each connection's SSL object itself,
// sets SNI and X509_VERIFY_PARAM_set1_host (or _ip) on it, and records OpenSSL's verification
// error, so an expired certificate, an unknown CA or a wrong host name fails the handshake, before
// the A-ASSOCIATE-RQ, and the log says which.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/cond.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include "dcmtk/dcmtls/tlstrans.h"

#include "rr_scu_internal.h"
#include "rr_tls_internal.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <string>

namespace {

/// The verification error of the handshake in progress on this thread (a sender's handshake
/// runs synchronously on its own thread).
thread_local std::string lastVerifyError;

int recordVerifyError(int ok, X509_STORE_CTX *context) {
    if (!ok && lastVerifyError.empty()) {
        const int error = X509_STORE_CTX_get_error(context);
        lastVerifyError = X509_verify_cert_error_string(error);
        lastVerifyError += " (depth " + std::to_string(X509_STORE_CTX_get_error_depth(context)) + ")";
    }
    return ok;
}

bool isIPAddress(const std::string &host) {
    unsigned char buffer[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

/// A DcmTLSTransportLayer whose connections carry SNI and a host name to verify.
class RRClientTLSLayer : public DcmTLSTransportLayer {
public:
    RRClientTLSLayer(const std::string &host, bool verifyHost, int32_t timeoutSeconds)
        : DcmTLSTransportLayer(NET_REQUESTOR, nullptr, OFFalse), host_(host), verifyHost_(verifyHost),
          timeoutSeconds_(timeoutSeconds) {}

    DcmTransportConnection *createConnection(DcmNativeSocketType openSocket, OFBool useSecureLayer) override {
        if (!useSecureLayer) return DcmTLSTransportLayer::createConnection(openSocket, useSecureLayer);
        SSL_CTX *context = getNativeHandle();
        if (context == nullptr) return nullptr;
        SSL *ssl = SSL_new(context);
        if (ssl == nullptr) return nullptr;
        SSL_set_fd(ssl, static_cast<int>(openSocket));
        const bool address = isIPAddress(host_);
        // RFC 6066 §3: SNI carries host names only, never literal addresses.
        if (!address && !host_.empty()) SSL_set_tlsext_host_name(ssl, host_.c_str());
        if (verifyHost_) {
            X509_VERIFY_PARAM *parameters = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(parameters, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            const int set = address ? X509_VERIFY_PARAM_set1_ip_asc(parameters, host_.c_str())
                                    : X509_VERIFY_PARAM_set1_host(parameters, host_.c_str(), 0);
            if (set != 1) {
                SSL_free(ssl);
                return nullptr;
            }
        }
        SSL_set_verify(ssl, SSL_VERIFY_PEER, recordVerifyError);
        // SSL_connect blocks on a plain socket: bound the handshake (a peer that never answers)
        // and every later read the same way DCMTK bounds its own waits.
        if (timeoutSeconds_ > 0) {
            struct timeval timeout {};
            timeout.tv_sec = timeoutSeconds_;
            setsockopt(static_cast<int>(openSocket), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
            setsockopt(static_cast<int>(openSocket), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        }
        return new DcmTLSConnection(openSocket, ssl);
    }

private:
    std::string host_;
    bool verifyHost_;
    int32_t timeoutSeconds_;
};

}  // namespace

namespace rr {

ClientTLS::ClientTLS() = default;
ClientTLS::~ClientTLS() = default;

void ClientTLS::configure(const rr_tls_client_config *config) {
    enabled_ = true;
    ca_ = config->ca_file != nullptr ? config->ca_file : "";
    certificate_ = config->certificate_file != nullptr ? config->certificate_file : "";
    privateKey_ = config->private_key_file != nullptr ? config->private_key_file : "";
    serverName_ = config->server_name != nullptr ? config->server_name : "";
    verifyHost_ = config->verify_hostname != 0;
}

bool ClientTLS::prepare(T_ASC_Network *network, T_ASC_Parameters *parameters, const std::string &host,
                        int32_t timeoutSeconds, rr_net_result *result) {
    lastVerifyError.clear();
    ERR_clear_error();
    const std::string name = serverName_.empty() ? host : serverName_;
    std::unique_ptr<RRClientTLSLayer> layer(new RRClientTLSLayer(name, verifyHost_, timeoutSeconds));
    if (!*layer) {
        failResult(result, RR_NET_TLS, "TLS: cannot create an OpenSSL context");
        return false;
    }
    OFCondition condition = layer->setTLSProfile(TSP_Profile_BCP195_ND);
    if (condition.good()) condition = layer->activateCipherSuites();
    if (condition.good()) {
        condition = ca_.empty() ? layer->addTrustedCertificateDir("/etc/ssl/certs", DCF_Filetype_PEM)
                                : layer->addTrustedCertificateFile(ca_.c_str(), DCF_Filetype_PEM);
    }
    if (condition.good() && !certificate_.empty()) {
        condition = layer->setPrivateKeyFile(privateKey_.c_str(), DCF_Filetype_PEM);
        if (condition.good()) condition = layer->setCertificateFile(certificate_.c_str(), DCF_Filetype_PEM);
        if (condition.good() && !layer->checkPrivateKeyMatchesCertificate()) {
            failResult(result, RR_NET_TLS, "TLS: the client private key does not match its certificate");
            return false;
        }
    }
    if (condition.bad()) {
        failResult(result, RR_NET_TLS, condition);
        return false;
    }
    layer->setCertificateVerification(DCV_requireCertificate);
    condition = ASC_setTransportLayer(network, layer.get(), 0);
    if (condition.good()) condition = ASC_setTransportLayerType(parameters, OFTrue);
    if (condition.bad()) {
        failResult(result, RR_NET_TLS, condition);
        return false;
    }
    // The previous association is gone (one at a time per rr_scu): its layer can go too.
    layer_.reset(layer.release());
    return true;
}

bool ClientTLS::explainFailure(const OFCondition &condition, rr_net_result *result) {
    // DUL reports a failed handshake as DULC_TLSERROR, or (a plain peer closing on our
    // ClientHello) as a transport error whose text names OpenSSL.
    const char *text = condition.text();
    const bool tls = (condition.module() == OFM_dcmnet && condition.code() == DULC_TLSERROR) ||
                     (text != nullptr && (std::strstr(text, "OpenSSL") != nullptr || std::strstr(text, "TLS") != nullptr));
    if (!tls && lastVerifyError.empty()) return false;
    std::string message = "TLS handshake failed";
    if (!lastVerifyError.empty()) message += ": certificate verify failed: " + lastVerifyError;
    const unsigned long sslError = ERR_peek_last_error();
    if (lastVerifyError.empty() && sslError != 0) {
        char text[256];
        ERR_error_string_n(sslError, text, sizeof text);
        message += std::string(": ") + text;
    }
    if (lastVerifyError.empty() && sslError == 0 && condition.text() != nullptr) {
        message += std::string(": ") + condition.text();
    }
    result->kind = RR_NET_TLS;
    setError(&result->error, message.c_str());
    lastVerifyError.clear();
    ERR_clear_error();
    return true;
}

}  // namespace rr
