#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/oflog/oflog.h"

#include "rr_internal.h"

#include <csignal>
#include <cstdlib>
#include <mutex>

int rr_runtime_initialize(rr_error *error) {
    rr::clearError(error);
    try {
        static std::once_flag once;
        std::call_once(once, [] {
            // Read by DCMTK's DUL on every connect; without it each C-STORE waits ~40 ms for a
            // delayed ACK. Set before any association exists.
            setenv("TCP_NODELAY", "1", 1);
            // DCMTK ignores SIGPIPE only once a network is initialised; a listener built on NIO
            // may write first, so do it here as well.
            std::signal(SIGPIPE, SIG_IGN);
            // Until rr_log_install_sink replaces it (the daemon does, right after this), DCMTK
            // writes warnings and above to stderr. This replaces every root appender, so it must
            // run before that sink is installed: it runs once, here.
            OFLog::configure(OFLogger::WARN_LOG_LEVEL);
            DJLSDecoderRegistration::registerCodecs();
            DJLSEncoderRegistration::registerCodecs();
            DJDecoderRegistration::registerCodecs();
            DJEncoderRegistration::registerCodecs();
            DcmRLEDecoderRegistration::registerCodecs();
            DcmRLEEncoderRegistration::registerCodecs();
            // DUL initialises its state machine table on the first network, unsynchronised;
            // do that here, once, before senders create networks on several threads.
            T_ASC_Network *network = nullptr;
            if (ASC_initializeNetwork(NET_REQUESTOR, 0, 1, &network).good()) ASC_dropNetwork(&network);
        });
        if (!dcmDataDict.isDictionaryLoaded()) {
            rr::setError(error, "the DICOM data dictionary is not loaded: install libdcmtk17 "
                                "(/usr/share/libdcmtk17/dicom.dic) or set DCMDICTPATH");
            return RR_RUNTIME_NO_DICTIONARY;
        }
        return RR_RUNTIME_OK;
    } catch (...) {
        rr::setExceptionError(error);
        return RR_RUNTIME_EXCEPTION;
    }
}
