// The validating load behind rr_inspect_file (rr_dataset.cpp) and rr_inspect_file_attributes
// (rr_attributes.cpp): one copy, so the two entry points cannot drift apart in what they accept.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcobject.h"
#include "dcmtk/dcmdata/dcxfer.h"

#include "rr_internal.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

namespace {

using rr::copyString;
using rr::setError;

/// Fails early with the OS reason for files DCMTK would only call an "invalid stream".
bool checkReadable(const char *path, rr_error *error) {
    struct stat info;
    if (stat(path, &info) != 0) {
        setError(error, std::strerror(errno));
        return false;
    }
    if (!S_ISREG(info.st_mode)) {
        setError(error, "not a regular file");
        return false;
    }
    std::FILE *file = std::fopen(path, "rb");
    if (file == nullptr) {
        setError(error, std::strerror(errno));
        return false;
    }
    std::fclose(file);
    return true;
}

/// Copies a string attribute of the main dataset (all values, backslash-joined) into out.
bool copyAttribute(DcmDataset &dataset, const DcmTagKey &tag, char *out, std::size_t capacity) {
    OFString value;
    if (dataset.findAndGetOFStringArray(tag, value, OFFalse /* main dataset only */).bad()) return false;
    copyString(out, capacity, value.c_str());
    return true;
}

}  // namespace

namespace rr {

int loadAndInspect(const char *path, const char *transfer_syntax_hint, DcmFileFormat &file, rr_inspection *out,
                   rr_error *error) {
    std::memset(out, 0, sizeof *out);
    if (path == nullptr || !checkReadable(path, error)) return RR_INSPECT_UNREADABLE;
    // With this flag on DCMTK skips over broken elements and reports success; an inspection
    // that cannot fail is worse than none.
    if (dcmIgnoreParsingErrors.get()) {
        setError(error, "dcmIgnoreParsingErrors is enabled; refusing to validate");
        return RR_INSPECT_PARSE_FAILED;
    }
    E_TransferSyntax hint = EXS_Unknown;
    if (transfer_syntax_hint != nullptr && transfer_syntax_hint[0] != '\0') {
        hint = DcmXfer(transfer_syntax_hint).getXfer();
    }
    // Values larger than 64 KiB (pixel data above all) stay on disk, so validating a 2 GB
    // object costs no more memory than a small one. Truncation is still caught: while
    // parsing, the file stream checks that every value's declared length is present, and a
    // value that runs past the end of the file fails the load.
    const Uint32 maxReadLength = 64 * 1024;
    OFCondition condition = file.loadFile(path, hint, EGL_noChange, maxReadLength, ERM_autoDetect);
    if (condition.bad()) {
        setError(error, condition);
        return RR_INSPECT_PARSE_FAILED;
    }
    DcmDataset &dataset = *file.getDataset();
    out->has_sop_class_uid = copyAttribute(dataset, DCM_SOPClassUID, out->sop_class_uid, RR_UID_CAPACITY);
    out->has_sop_instance_uid = copyAttribute(dataset, DCM_SOPInstanceUID, out->sop_instance_uid, RR_UID_CAPACITY);
    out->has_study_instance_uid =
        copyAttribute(dataset, DCM_StudyInstanceUID, out->study_instance_uid, RR_UID_CAPACITY);
    out->has_series_instance_uid =
        copyAttribute(dataset, DCM_SeriesInstanceUID, out->series_instance_uid, RR_UID_CAPACITY);
    out->has_modality = copyAttribute(dataset, DCM_Modality, out->modality, sizeof out->modality);
    out->has_pixel_data = dataset.tagExists(DCM_PixelData) || dataset.tagExists(DCM_FloatPixelData) ||
                          dataset.tagExists(DCM_DoubleFloatPixelData);
    DcmMetaInfo *meta = file.getMetaInfo();
    out->has_meta_header = meta != nullptr && !meta->isEmpty();

    const DcmXfer stored(dataset.getOriginalXfer());
    OFString metaSyntax;
    if (stored.getXfer() != EXS_Unknown) {
        copyString(out->transfer_syntax_uid, RR_UID_CAPACITY, stored.getXferID());
    } else if (meta != nullptr && meta->findAndGetOFString(DCM_TransferSyntaxUID, metaSyntax).good()) {
        copyString(out->transfer_syntax_uid, RR_UID_CAPACITY, metaSyntax.c_str());
    }
    return RR_INSPECT_OK;
}

}  // namespace rr
