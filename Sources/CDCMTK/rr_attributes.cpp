// Issue 4: the one full parse at ingest also yields the attribute values routing rules ask for.
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

/// Copies a string attribute of the main dataset (all values, backslash-joined) into out.
bool copyValue(DcmDataset &dataset, const DcmTagKey &tag, char *out, std::size_t capacity) {
    OFString value;
    if (dataset.findAndGetOFStringArray(tag, value, OFFalse /* main dataset only */).bad()) return false;
    rr::copyString(out, capacity, value.c_str());
    return true;
}

/// The OS reason for files DCMTK would only call an "invalid stream".
bool readable(const char *path, rr_error *error) {
    struct stat info;
    if (stat(path, &info) != 0) {
        rr::setError(error, std::strerror(errno));
        return false;
    }
    if (!S_ISREG(info.st_mode)) {
        rr::setError(error, "not a regular file");
        return false;
    }
    std::FILE *file = std::fopen(path, "rb");
    if (file == nullptr) {
        rr::setError(error, std::strerror(errno));
        return false;
    }
    std::fclose(file);
    return true;
}

/// Reports each requested attribute that the main dataset holds.
void reportAttributes(DcmDataset &dataset, const uint32_t *tags, std::size_t count, rr_attribute_fn found,
                      void *context) {
    if (found == nullptr || tags == nullptr) return;
    for (std::size_t index = 0; index < count; ++index) {
        const DcmTagKey key(static_cast<Uint16>(tags[index] >> 16), static_cast<Uint16>(tags[index] & 0xFFFF));
        DcmElement *element = nullptr;
        if (dataset.findAndGetElement(key, element, OFFalse /* main dataset only */).bad() || element == nullptr) {
            continue;
        }
        if (element->ident() == EVR_SQ) {
            found(context, index, "");
            continue;
        }
        OFString value;
        // getOFStringArray formats numbers of binary VRs too; a value it cannot render counts
        // as present but empty.
        if (element->getOFStringArray(value).bad()) value.clear();
        found(context, index, value.c_str());
    }
}

}  // namespace

int rr_inspect_file_attributes(const char *path, const char *transfer_syntax_hint, const uint32_t *tags,
                               size_t count, rr_attribute_fn found, void *context, rr_inspection *out,
                               rr_error *error) {
    rr::clearError(error);
    try {
        std::memset(out, 0, sizeof *out);
        if (path == nullptr || !readable(path, error)) return RR_INSPECT_UNREADABLE;
        // Same validation as rr_inspect_file: with this flag on DCMTK skips broken elements.
        if (dcmIgnoreParsingErrors.get()) {
            rr::setError(error, "dcmIgnoreParsingErrors is enabled; refusing to validate");
            return RR_INSPECT_PARSE_FAILED;
        }
        E_TransferSyntax hint = EXS_Unknown;
        if (transfer_syntax_hint != nullptr && transfer_syntax_hint[0] != '\0') {
            hint = DcmXfer(transfer_syntax_hint).getXfer();
        }
        DcmFileFormat file;
        // Values above 64 KiB stay on disk (memory stays flat); truncation is still detected
        // while parsing. See rr_inspect_file.
        const Uint32 maxReadLength = 64 * 1024;
        OFCondition condition = file.loadFile(path, hint, EGL_noChange, maxReadLength, ERM_autoDetect);
        if (condition.bad()) {
            rr::setError(error, condition);
            return RR_INSPECT_PARSE_FAILED;
        }
        DcmDataset &dataset = *file.getDataset();
        out->has_sop_class_uid = copyValue(dataset, DCM_SOPClassUID, out->sop_class_uid, RR_UID_CAPACITY);
        out->has_sop_instance_uid = copyValue(dataset, DCM_SOPInstanceUID, out->sop_instance_uid, RR_UID_CAPACITY);
        out->has_study_instance_uid =
            copyValue(dataset, DCM_StudyInstanceUID, out->study_instance_uid, RR_UID_CAPACITY);
        out->has_series_instance_uid =
            copyValue(dataset, DCM_SeriesInstanceUID, out->series_instance_uid, RR_UID_CAPACITY);
        out->has_modality = copyValue(dataset, DCM_Modality, out->modality, sizeof out->modality);
        out->has_pixel_data = dataset.tagExists(DCM_PixelData) || dataset.tagExists(DCM_FloatPixelData) ||
                              dataset.tagExists(DCM_DoubleFloatPixelData);
        DcmMetaInfo *meta = file.getMetaInfo();
        out->has_meta_header = meta != nullptr && !meta->isEmpty();
        const DcmXfer stored(dataset.getOriginalXfer());
        OFString metaSyntax;
        if (stored.getXfer() != EXS_Unknown) {
            rr::copyString(out->transfer_syntax_uid, RR_UID_CAPACITY, stored.getXferID());
        } else if (meta != nullptr && meta->findAndGetOFString(DCM_TransferSyntaxUID, metaSyntax).good()) {
            rr::copyString(out->transfer_syntax_uid, RR_UID_CAPACITY, metaSyntax.c_str());
        }
        reportAttributes(dataset, tags, count, found, context);
        return RR_INSPECT_OK;
    } catch (...) {
        rr::setExceptionError(error);
        return RR_INSPECT_EXCEPTION;
    }
}
