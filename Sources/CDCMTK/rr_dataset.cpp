#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"

#include "rr_internal.h"

int rr_inspect_file(const char *path, const char *transfer_syntax_hint, rr_inspection *out,
                    rr_error *error) {
    rr::clearError(error);
    try {
        DcmFileFormat file;
        return rr::loadAndInspect(path, transfer_syntax_hint, file, out, error);
    } catch (...) {
        rr::setExceptionError(error);
        return RR_INSPECT_EXCEPTION;
    }
}

int rr_is_storage_sop_class(const char *uid) {
    try {
        return uid != nullptr && dcmIsaStorageSOPClassUID(uid, ESSC_All) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}
