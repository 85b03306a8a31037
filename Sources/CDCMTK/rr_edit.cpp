// Metadata normalization (issue 3): reading attributes as UTF-8 text for the rule engine, and
// applying one pass of edits with its PS3.3 C.12.1.1.9 record (Original Attributes Sequence).
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcspchrs.h"
#include "dcmtk/dcmdata/dctag.h"

#include "rr_object_internal.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace rr {

std::string declaredCharset(DcmDataset &dataset) {
    OFString value;
    if (dataset.findAndGetOFStringArray(DCM_SpecificCharacterSet, value, OFFalse).bad()) return "";
    std::string text = value.c_str();
    // A lone backslash-separated list of empty values means "default repertoire" as well.
    if (text.find_first_not_of(" \\") == std::string::npos) return "";
    return text;
}

bool isCharsetVR(DcmEVR vr) {
    switch (vr) {
    case EVR_SH:
    case EVR_LO:
    case EVR_ST:
    case EVR_LT:
    case EVR_PN:
    case EVR_UC:
    case EVR_UT:
        return true;
    default:
        return false;
    }
}

}  // namespace rr

namespace {

const char *const utf8Charset = "ISO_IR 192";

/// VRs whose value is text the rule engine may read and write (UI is deliberately absent: UIDs
/// are never changed).
bool isTextVR(DcmEVR vr) {
    switch (vr) {
    case EVR_AE:
    case EVR_AS:
    case EVR_CS:
    case EVR_DA:
    case EVR_DS:
    case EVR_DT:
    case EVR_IS:
    case EVR_TM:
    case EVR_UR:
        return true;
    default:
        return rr::isCharsetVR(vr);
    }
}

bool isASCII(const char *bytes, std::size_t length) {
    for (std::size_t index = 0; index < length; index++) {
        if (static_cast<unsigned char>(bytes[index]) >= 0x80) return false;
    }
    return true;
}

/// Tags no edit may touch, whatever the config says (the Swift side refuses them earlier; this
/// is the last line of defence): meta and command groups, group lengths, the character set, the
/// coercion record itself and pixel data.
const char *protectedReason(const DcmTagKey &key) {
    if (key.getGroup() == 0x0000 || key.getGroup() == 0x0002) return "groups 0000 and 0002 cannot be edited";
    if (key.getElement() == 0x0000) return "group lengths cannot be edited";
    if (key == DCM_SpecificCharacterSet) return "the character set changes only by conversion";
    if (key == DCM_OriginalAttributesSequence || key == DCM_InstanceCoercionDateTime) {
        return "the coercion record is maintained by radrelay";
    }
    if (key.getGroup() == 0x7FE0) return "pixel data cannot be edited";
    return nullptr;
}

/// Converts between the dataset's character set and UTF-8 for single values.
OFCondition convert(const std::string &from, const std::string &to, const std::string &text, OFString &out) {
    DcmSpecificCharacterSet converter;
    OFCondition condition = converter.selectCharacterSet(from.c_str(), to.c_str());
    if (condition.bad()) return condition;
    return converter.convertString(text.c_str(), text.size(), out, "\\^=");
}

/// Decodes a value of a charset VR to UTF-8. Bytes outside ASCII with neither a declared nor an
/// assumed character set are read as Latin-1 (the common legacy case), so rules can still match.
std::string toUTF8(const std::string &charset, const std::string &bytes) {
    if (isASCII(bytes.data(), bytes.size()) || charset == utf8Charset) return bytes;
    OFString converted;
    if (convert(charset.empty() ? "ISO_IR 100" : charset, utf8Charset, bytes, converted).good()) {
        return converted.c_str();
    }
    if (charset != "ISO_IR 100" && convert("ISO_IR 100", utf8Charset, bytes, converted).good()) {
        return converted.c_str();
    }
    return bytes;
}

/// Adds the prior state of `key` to the Modified Attributes Sequence item: a copy of the element,
/// or an empty element when it was absent (PS3.3 C.12.1.1.9.1 allows zero length for added
/// attributes, which tells a reader the attribute did not exist).
OFCondition recordPrior(DcmDataset &dataset, DcmItem &modified, const DcmTagKey &key) {
    if (modified.tagExists(key)) return EC_Normal;
    DcmElement *element = nullptr;
    if (dataset.findAndGetElement(key, element, OFFalse).good() && element != nullptr) {
        auto *copy = static_cast<DcmElement *>(element->clone());
        OFCondition condition = modified.insert(copy, OFTrue);
        if (condition.bad()) delete copy;
        return condition;
    }
    return modified.insertEmptyElement(DcmTag(key), OFTrue);
}

/// Converts every text value of the dataset to UTF-8 from `from` and records the old Specific
/// Character Set (and only that) in `modified`.
OFCondition convertDataset(DcmDataset &dataset, DcmItem &modified, const std::string &from) {
    OFCondition condition = recordPrior(dataset, modified, DCM_SpecificCharacterSet);
    if (condition.bad()) return condition;
    condition = dataset.convertCharacterSet(from.c_str(), utf8Charset, 0, OFTrue);
    if (condition.bad()) return condition;
    // convertCharacterSet removes (0008,0005) when the target is ASCII-compatible and nothing
    // needed it; UTF-8 is declared explicitly so readers need not guess.
    return dataset.putAndInsertString(DCM_SpecificCharacterSet, utf8Charset);
}

/// The element for `key`, created with its dictionary VR when absent. Refuses UIDs, sequences
/// and binary VRs (only removal applies to those) and tags without a known VR.
OFCondition elementForSet(DcmDataset &dataset, const DcmTagKey &key, DcmElement *&element, const char *&refusal) {
    element = nullptr;
    if (dataset.findAndGetElement(key, element, OFFalse).good() && element != nullptr) {
        if (element->ident() == EVR_UI) refusal = "UIDs are never changed";
        else if (!isTextVR(element->ident())) refusal = "only text attributes can be set";
        return refusal != nullptr ? EC_IllegalCall : EC_Normal;
    }
    DcmTag tag(key);
    const DcmEVR vr = tag.getEVR();
    if (vr == EVR_UI) refusal = "UIDs are never changed";
    else if (vr == EVR_UNKNOWN || vr == EVR_UN) refusal = "the data dictionary has no VR for this tag";
    else if (!isTextVR(vr)) refusal = "only text attributes can be set";
    if (refusal != nullptr) return EC_IllegalCall;
    OFCondition condition = DcmItem::newDicomElement(element, key);
    if (condition.bad()) return condition;
    condition = dataset.insert(element, OFTrue);
    if (condition.bad()) {
        delete element;
        element = nullptr;
    }
    return condition;
}

void failEdit(rr_error *error, const DcmTagKey &key, const char *reason) {
    const std::string message = std::string(key.toString().c_str()) + ": " + reason;
    rr::setError(error, message.c_str());
}

}  // namespace

rr_object *rr_object_open(const char *path, rr_error *error) {
    rr::clearError(error);
    try {
        if (path == nullptr) {
            rr::setError(error, "no path");
            return nullptr;
        }
        auto object = std::make_unique<rr_object>();
        object->path = path;
        // Default lazy loading: values over 4 KiB (pixel data) are read from the file when used.
        const OFCondition condition = object->file.loadFile(path);
        if (condition.bad()) {
            rr::setError(error, condition);
            return nullptr;
        }
        return object.release();
    } catch (...) {
        rr::setExceptionError(error);
        return nullptr;
    }
}

void rr_object_close(rr_object *object) {
    try {
        delete object;
    } catch (...) {
    }
}

int rr_object_get_info(rr_object *object, rr_object_info *out, rr_error *error) {
    rr::clearError(error);
    try {
        std::memset(out, 0, sizeof *out);
        DcmDataset &dataset = object->dataset();
        const DcmXfer stored(dataset.getOriginalXfer());
        rr::copyString(out->transfer_syntax_uid, sizeof out->transfer_syntax_uid, stored.getXferID());
        const std::string charset = rr::declaredCharset(dataset);
        out->has_specific_character_set = charset.empty() ? 0 : 1;
        rr::copyString(out->specific_character_set, sizeof out->specific_character_set, charset.c_str());
        out->has_pixel_data = dataset.tagExists(DCM_PixelData, OFFalse) ? 1 : 0;
        out->has_extended_characters = dataset.containsExtendedCharacters(OFFalse) ? 1 : 0;
        return 0;
    } catch (...) {
        rr::setExceptionError(error);
        return -1;
    }
}

int rr_object_get_text(rr_object *object, uint32_t tag, const char *assumed_charset, char *buffer,
                       size_t capacity, size_t *length, rr_error *error) {
    rr::clearError(error);
    try {
        *length = 0;
        DcmDataset &dataset = object->dataset();
        const DcmTagKey key(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
        DcmElement *element = nullptr;
        if (dataset.findAndGetElement(key, element, OFFalse).bad() || element == nullptr) return RR_TEXT_ABSENT;
        if (!isTextVR(element->ident())) return RR_TEXT_NOT_TEXT;
        OFString raw;
        // Not DCMTK's normalized form: leading spaces are what "trim" and "strip padding" rules
        // exist for. Trailing spaces and NULs are padding (PS3.5 §6.2) and never part of a value.
        OFCondition condition = element->getOFStringArray(raw, OFFalse);
        if (condition.bad()) {
            rr::setError(error, condition);
            return RR_TEXT_FAILED;
        }
        std::string text(raw.c_str(), raw.length());
        while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
        if (rr::isCharsetVR(element->ident())) {
            std::string charset = rr::declaredCharset(dataset);
            if (charset.empty() && assumed_charset != nullptr) charset = assumed_charset;
            text = toUTF8(charset, text);
        }
        *length = text.size();
        if (text.size() > capacity) return RR_TEXT_TOO_SMALL;
        if (!text.empty()) std::memcpy(buffer, text.data(), text.size());
        return RR_TEXT_PRESENT;
    } catch (...) {
        rr::setExceptionError(error);
        return RR_TEXT_FAILED;
    }
}

int rr_object_apply_pass(rr_object *object, const rr_normalization_pass *pass, rr_pass_result *result,
                         rr_error *error) {
    rr::clearError(error);
    try {
        std::memset(result, 0, sizeof *result);
        DcmDataset &dataset = object->dataset();
        // Everything is checked before anything changes, so a refused edit leaves the object as
        // it was.
        for (std::size_t index = 0; index < pass->count; index++) {
            const rr_attribute_edit &edit = pass->edits[index];
            const DcmTagKey key(static_cast<Uint16>(edit.tag >> 16), static_cast<Uint16>(edit.tag & 0xFFFF));
            if (const char *reason = protectedReason(key)) {
                failEdit(error, key, reason);
                return -1;
            }
            DcmElement *existing = nullptr;
            if (dataset.findAndGetElement(key, existing, OFFalse).good() && existing != nullptr &&
                existing->ident() == EVR_UI) {
                failEdit(error, key, "UIDs are never changed");
                return -1;
            }
        }

        std::unique_ptr<DcmItem> modified(new DcmItem());
        OFCondition condition = EC_Normal;
        // Prior values first, in the encoding they had: the item then carries the old Specific
        // Character Set when the pass converts, so its text stays readable (PS3.5 §6.1.2.5).
        for (std::size_t index = 0; index < pass->count && condition.good(); index++) {
            const uint32_t tag = pass->edits[index].tag;
            condition = recordPrior(dataset, *modified, DcmTagKey(static_cast<Uint16>(tag >> 16),
                                                                   static_cast<Uint16>(tag & 0xFFFF)));
        }
        if (condition.bad()) {
            rr::setError(error, condition);
            return -1;
        }

        std::string declared = rr::declaredCharset(dataset);
        std::string source = declared;
        if (source.empty() && pass->assumed_charset != nullptr) source = pass->assumed_charset;
        auto convertNow = [&]() -> OFCondition {
            OFCondition converted = convertDataset(dataset, *modified, source);
            if (converted.good()) {
                result->converted_charset = 1;
                declared = source = utf8Charset;
            }
            return converted;
        };
        // Text in ASCII with nothing declared is valid UTF-8 already: nothing to convert or record.
        const bool needsConversion =
            declared != utf8Charset && (!declared.empty() || dataset.containsExtendedCharacters(OFFalse));
        if (pass->convert_to_utf8 && needsConversion) {
            if (!source.empty()) {
                condition = convertNow();
            } else if (dataset.containsExtendedCharacters(OFFalse)) {
                // Bytes outside ASCII, no declared and no assumed character set: converting would
                // have to guess. Leave the text as it is; the caller reports it.
                result->charset_unknown = 1;
            }
            if (condition.bad()) {
                rr::setError(error, condition);
                return -1;
            }
        }

        for (std::size_t index = 0; index < pass->count; index++) {
            const rr_attribute_edit &edit = pass->edits[index];
            const DcmTagKey key(static_cast<Uint16>(edit.tag >> 16), static_cast<Uint16>(edit.tag & 0xFFFF));
            if (edit.remove) {
                dataset.findAndDeleteElement(key, OFFalse, OFFalse);
                continue;
            }
            DcmElement *element = nullptr;
            const char *refusal = nullptr;
            condition = elementForSet(dataset, key, element, refusal);
            if (condition.bad()) {
                if (refusal != nullptr) failEdit(error, key, refusal);
                else rr::setError(error, condition);
                return -1;
            }
            const std::string utf8(edit.value != nullptr ? edit.value : "", edit.value != nullptr ? edit.length : 0);
            std::string bytes = utf8;
            if (!isASCII(utf8.data(), utf8.size())) {
                if (!rr::isCharsetVR(element->ident())) {
                    failEdit(error, key, "this VR takes ASCII characters only");
                    return -1;
                }
                if (declared != utf8Charset) {
                    OFString encoded;
                    if (!declared.empty() && convert(utf8Charset, declared, utf8, encoded).good()) {
                        bytes = encoded.c_str();
                    } else {
                        // The new value cannot be written in the object's character set: the
                        // whole object goes to UTF-8 (and the pass records the old set).
                        if (source.empty()) source = declared;
                        condition = convertNow();
                        if (condition.bad()) {
                            rr::setError(error, condition);
                            return -1;
                        }
                        // Conversion may have replaced the element object.
                        dataset.findAndGetElement(key, element, OFFalse);
                    }
                }
            }
            condition = element->putOFStringArray(OFString(bytes.c_str(), bytes.size()));
            if (condition.bad()) {
                rr::setError(error, condition);
                return -1;
            }
        }

        if (modified->card() == 0) return 0;

        // PS3.3 C.12.1.1.9: one new item at the end of (0400,0561); existing items stay as they are.
        DcmItem *record = nullptr;
        condition = dataset.findOrCreateSequenceItem(DCM_OriginalAttributesSequence, record, -2);
        if (condition.good()) condition = record->insertSequenceItem(DCM_ModifiedAttributesSequence, modified.get());
        if (condition.good()) modified.release();  // the sequence owns it now
        if (condition.good()) {
            condition = record->putAndInsertString(DCM_AttributeModificationDateTime, pass->date_time);
        }
        if (condition.good()) condition = record->putAndInsertString(DCM_ModifyingSystem, pass->modifying_system);
        if (condition.good()) {
            condition = record->putAndInsertString(DCM_SourceOfPreviousValues, pass->source_of_previous_values);
        }
        if (condition.good()) {
            condition = record->putAndInsertString(DCM_ReasonForTheAttributeModification, pass->reason);
        }
        if (condition.good()) condition = dataset.putAndInsertString(DCM_InstanceCoercionDateTime, pass->date_time);
        if (condition.bad()) {
            rr::setError(error, condition);
            return -1;
        }
        result->recorded = 1;
        return 0;
    } catch (...) {
        rr::setExceptionError(error);
        return -1;
    }
}
