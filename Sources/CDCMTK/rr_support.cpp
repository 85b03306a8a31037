#include "rr_internal.h"

#include <cstring>
#include <exception>

namespace rr {

void copyString(char *destination, std::size_t capacity, const char *source) {
    if (destination == nullptr || capacity == 0) return;
    if (source == nullptr) source = "";
    std::size_t length = std::strlen(source);
    if (length >= capacity) length = capacity - 1;
    std::memcpy(destination, source, length);
    destination[length] = '\0';
}

void clearError(rr_error *error) {
    if (error == nullptr) return;
    error->module = 0;
    error->code = 0;
    error->message[0] = '\0';
}

void setError(rr_error *error, const OFCondition &condition) {
    if (error == nullptr) return;
    error->module = condition.module();
    error->code = condition.code();
    copyString(error->message, sizeof error->message, condition.text());
}

void setError(rr_error *error, const char *message) {
    if (error == nullptr) return;
    error->module = 0;
    error->code = 0;
    copyString(error->message, sizeof error->message, message);
}

void setExceptionError(rr_error *error) {
    try {
        throw;
    } catch (const std::exception &exception) {
        setError(error, exception.what());
    } catch (...) {
        setError(error, "unknown C++ exception in the DCMTK shim");
    }
}

}  // namespace rr
