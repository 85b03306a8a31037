#include "rr_dcmtk.h"

#include <openssl/evp.h>

// The opaque state is OpenSSL's digest context itself.
struct rr_sha256 {
    EVP_MD_CTX *context;
};

rr_sha256 *rr_sha256_create(void) {
    try {
        EVP_MD_CTX *context = EVP_MD_CTX_new();
        if (context == nullptr) return nullptr;
        if (EVP_DigestInit_ex(context, EVP_sha256(), nullptr) != 1) {
            EVP_MD_CTX_free(context);
            return nullptr;
        }
        return new rr_sha256{context};
    } catch (...) {
        return nullptr;
    }
}

int rr_sha256_update(rr_sha256 *state, const void *bytes, size_t count) {
    try {
        if (state == nullptr) return -1;
        if (count == 0) return 0;
        return EVP_DigestUpdate(state->context, bytes, count) == 1 ? 0 : -1;
    } catch (...) {
        return -1;
    }
}

int rr_sha256_finalize(rr_sha256 *state, uint8_t digest[32]) {
    try {
        if (state == nullptr) return -1;
        unsigned int length = 0;
        if (EVP_DigestFinal_ex(state->context, digest, &length) != 1 || length != 32) return -1;
        return 0;
    } catch (...) {
        return -1;
    }
}

void rr_sha256_destroy(rr_sha256 *state) {
    try {
        if (state == nullptr) return;
        EVP_MD_CTX_free(state->context);
        delete state;
    } catch (...) {
    }
}
