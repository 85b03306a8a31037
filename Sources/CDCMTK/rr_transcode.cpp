// Writing a derived file (issue 3): optional lossless transcoding with DCMTK's codecs, then a
// verifying decode of the written file whose pixel data must hash like the source's.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcrlerp.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djrparam.h"

#include "rr_object_internal.h"

#include <openssl/evp.h>

#include <chrono>
#include <cstring>
#include <memory>

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// SHA-256 of the top-level Pixel Data in native little-endian form, decoding it first when it is
/// encapsulated. Both sides of the verification use this, so a codec that drops bits (JPEG-LS
/// keeps only Bits Stored) or pads short data shows up as a mismatch.
OFCondition pixelDigest(DcmDataset &dataset, unsigned char digest[32], uint64_t *bytes) {
    OFCondition condition = dataset.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (condition.bad()) return condition;
    DcmElement *element = nullptr;
    condition = dataset.findAndGetElement(DCM_PixelData, element, OFFalse);
    if (condition.bad() || element == nullptr) return EC_TagNotFound;
    Uint8 *data = nullptr;
    condition = element->getUint8Array(data);
    if (condition.bad()) return condition;
    const Uint32 length = element->getLength();
    if (data == nullptr && length > 0) return EC_CorruptedData;
    unsigned int size = 0;
    if (EVP_Digest(data, length, digest, &size, EVP_sha256(), nullptr) != 1 || size != 32) return EC_IllegalCall;
    if (bytes != nullptr) *bytes = length;
    return EC_Normal;
}

/// The codec parameters for a lossless target, or nullptr when the default representation is
/// right (native syntaxes, where DCMTK only decodes).
std::unique_ptr<DcmRepresentationParameter> parameters(E_TransferSyntax target) {
    switch (target) {
    case EXS_JPEGLSLossless:
        return std::make_unique<DJLSRepresentationParameter>(0, OFTrue);
    case EXS_JPEGProcess14SV1:
        // Selection value 1, point transform 0: the lossless first-order predictor of .70.
        return std::make_unique<DJ_RPLossless>(1, 0);
    case EXS_RLELossless:
        return std::make_unique<DcmRLERepresentationParameter>();
    default:
        return nullptr;
    }
}

/// The representation the pixel data must be in to write `target`: deflate is a stream encoding
/// of Explicit VR Little Endian.
E_TransferSyntax representationFor(E_TransferSyntax target) {
    return target == EXS_DeflatedLittleEndianExplicit ? EXS_LittleEndianExplicit : target;
}

/// Keeps (0008,2111) Derivation Description as it was: DCMTK's JPEG encoder appends a note even
/// for lossless compression, and transcoding must change nothing but the encoding.
class DerivationDescriptionGuard {
public:
    explicit DerivationDescriptionGuard(DcmDataset &dataset) : dataset_(dataset) {
        DcmElement *element = nullptr;
        if (dataset.findAndGetElement(DCM_DerivationDescription, element, OFFalse).good() && element != nullptr) {
            saved_.reset(static_cast<DcmElement *>(element->clone()));
        }
    }
    void restore() {
        dataset_.findAndDeleteElement(DCM_DerivationDescription, OFFalse, OFFalse);
        if (saved_ && dataset_.insert(saved_.get(), OFTrue).good()) saved_.release();
    }

private:
    DcmDataset &dataset_;
    std::unique_ptr<DcmElement> saved_;
};

}  // namespace

int rr_object_save(rr_object *object, const char *path, const char *target_syntax_uid, int verify,
                   rr_save_result *result, rr_error *error) {
    rr::clearError(error);
    try {
        std::memset(result, 0, sizeof *result);
        if (path == nullptr) {
            rr::setError(error, "no output path");
            result->outcome = RR_SAVE_WRITE_FAILED;
            return result->outcome;
        }
        DcmDataset &dataset = object->dataset();
        const E_TransferSyntax original = dataset.getOriginalXfer();
        E_TransferSyntax target = original;
        if (target_syntax_uid != nullptr && target_syntax_uid[0] != '\0') {
            target = DcmXfer(target_syntax_uid).getXfer();
            if (target == EXS_Unknown) {
                rr::setError(error, "unknown target transfer syntax");
                result->outcome = RR_SAVE_CODEC_FAILED;
                return result->outcome;
            }
        }
        const bool transcoding = target != original;
        unsigned char sourceDigest[32] = {0};
        bool checkPixels = transcoding && verify && dataset.tagExists(DCM_PixelData, OFFalse);

        const Clock::time_point encodeStart = Clock::now();
        OFCondition condition = EC_Normal;
        if (checkPixels) {
            condition = pixelDigest(dataset, sourceDigest, &result->pixel_bytes);
            if (condition.bad()) {
                rr::setError(error, condition);
                result->outcome = RR_SAVE_CODEC_FAILED;
                return result->outcome;
            }
        }
        if (transcoding) {
            DerivationDescriptionGuard derivation(dataset);
            const E_TransferSyntax representation = representationFor(target);
            const std::unique_ptr<DcmRepresentationParameter> parameter = parameters(representation);
            condition = dataset.chooseRepresentation(representation, parameter.get());
            if (condition.good() && !dataset.canWriteXfer(target, original)) {
                condition = makeOFCondition(0, 1, OF_error, "the codec cannot encode this image");
            }
            if (condition.bad()) {
                rr::setError(error, condition);
                result->outcome = RR_SAVE_CODEC_FAILED;
                return result->outcome;
            }
            derivation.restore();
            // Frees the decoded copy before writing; only the target representation is kept.
            dataset.removeAllButCurrentRepresentations();
        }
        condition = object->file.saveFile(path, target, EET_ExplicitLength, EGL_recalcGL, EPD_noChange);
        result->encode_seconds = secondsSince(encodeStart);
        if (condition.bad()) {
            rr::setError(error, condition);
            result->outcome = RR_SAVE_WRITE_FAILED;
            return result->outcome;
        }
        rr::copyString(result->transfer_syntax_uid, sizeof result->transfer_syntax_uid, DcmXfer(target).getXferID());

        if (checkPixels) {
            const Clock::time_point verifyStart = Clock::now();
            DcmFileFormat written;
            condition = written.loadFile(path);
            unsigned char writtenDigest[32] = {0};
            if (condition.good()) condition = pixelDigest(*written.getDataset(), writtenDigest, nullptr);
            result->verify_seconds = secondsSince(verifyStart);
            result->verified = 1;
            if (condition.bad()) {
                rr::setError(error, condition);
                result->outcome = RR_SAVE_MISMATCH;
                return result->outcome;
            }
            if (std::memcmp(sourceDigest, writtenDigest, sizeof sourceDigest) != 0) {
                rr::setError(error, "decoded pixel data differs from the source");
                result->outcome = RR_SAVE_MISMATCH;
                return result->outcome;
            }
        }
        result->outcome = transcoding ? RR_SAVE_TRANSCODED : RR_SAVE_WRITTEN;
        return result->outcome;
    } catch (...) {
        rr::setExceptionError(error);
        result->outcome = RR_SAVE_CODEC_FAILED;
        return result->outcome;
    }
}
