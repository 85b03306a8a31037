// Issue 4: the one full parse at ingest also yields the attribute values routing rules ask for.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcobject.h"

#include "rr_internal.h"

namespace {

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
        DcmFileFormat file;
        const int code = rr::loadAndInspect(path, transfer_syntax_hint, file, out, error);
        if (code != RR_INSPECT_OK) return code;
        reportAttributes(*file.getDataset(), tags, count, found, context);
        return RR_INSPECT_OK;
    } catch (...) {
        rr::setExceptionError(error);
        return RR_INSPECT_EXCEPTION;
    }
}
