// The object behind rr_object (issue 3), shared by rr_edit.cpp and rr_transcode.cpp; not part of
// the public C header.
#ifndef RR_OBJECT_INTERNAL_H
#define RR_OBJECT_INTERNAL_H

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"

#include "rr_internal.h"

#include <string>

struct rr_object {
    /// The loaded file. Large values (pixel data) stay in the source file until they are needed,
    /// so the source must outlive the object.
    DcmFileFormat file;
    /// The source file's path, for messages only.
    std::string path;

    DcmDataset &dataset() { return *file.getDataset(); }
};

namespace rr {

/// The dataset's Specific Character Set (0008,0005) as stored (values joined by backslashes),
/// or "" when it is absent or empty.
std::string declaredCharset(DcmDataset &dataset);

/// True when the element's VR is one whose text Specific Character Set governs (PS3.5 §6.1.2.3).
bool isCharsetVR(DcmEVR vr);

}  // namespace rr

#endif
