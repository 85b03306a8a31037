// Helpers shared by the shim's translation units; not part of the public C header.
#ifndef RR_INTERNAL_H
#define RR_INTERNAL_H

#include "dcmtk/config/osconfig.h"
#include "dcmtk/ofstd/ofcond.h"

#include "rr_dcmtk.h"

#include <cstddef>

class DcmFileFormat;

namespace rr {

/// Copies a C string into a fixed buffer, always NUL-terminating (NULL source → empty).
void copyString(char *destination, std::size_t capacity, const char *source);

/// Resets an error to "no error"; NULL is fine.
void clearError(rr_error *error);

/// Copies an OFCondition's module, code and text; NULL is fine.
void setError(rr_error *error, const OFCondition &condition);

/// Records a shim-level failure (module 0) with a constant message; NULL is fine.
void setError(rr_error *error, const char *message);

/// Records that a C++ exception was caught at the boundary.
void setExceptionError(rr_error *error);

// MARK: - Inspecting a file (rr_dataset_support.cpp)

/// The validation both rr_inspect_file and rr_inspect_file_attributes run: clears `out`, checks
/// the file is readable, refuses while dcmIgnoreParsingErrors is on, loads it into `file` (large
/// values stay on disk) and fills `out` with its identity, meta-header flag and stored transfer
/// syntax. Returns an RR_INSPECT_* code, with `error` set on failure. May throw: the callers'
/// entry points catch.
int loadAndInspect(const char *path, const char *transfer_syntax_hint, DcmFileFormat &file, rr_inspection *out,
                   rr_error *error);

}  // namespace rr

#endif
