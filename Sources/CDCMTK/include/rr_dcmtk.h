/*
 * rr_dcmtk.h: the C ABI radrelay uses to reach DCMTK 3.6.7 (and OpenSSL's digest).
 *
 * Swift cannot reach most of DCMTK's C++ API, so this header exposes only plain C types. Every
 * symbol is rr_-prefixed. Every entry point catches all C++ exceptions; DCMTK's OFCondition comes
 * back as module + code + message in an rr_error the caller owns. No function keeps a pointer to
 * caller memory after it returns.
 */
#ifndef RR_DCMTK_H
#define RR_DCMTK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MARK: - Errors */

/** Capacity of every message buffer, terminating NUL included. */
#define RR_MESSAGE_CAPACITY 512

/** An OFCondition (or a shim-level failure, module 0) copied out of C++. */
typedef struct rr_error {
    uint16_t module;
    uint16_t code;
    char message[RR_MESSAGE_CAPACITY];
} rr_error;

/* MARK: - Runtime (rr_runtime.cpp) */

/** Result codes of rr_runtime_initialize. */
enum {
    RR_RUNTIME_OK = 0,
    RR_RUNTIME_NO_DICTIONARY = 1,
    RR_RUNTIME_EXCEPTION = 2
};

/**
 * Prepares the process for DCMTK once: sets TCP_NODELAY=1 (DCMTK disables Nagle only when that
 * variable is set, else every C-STORE waits for a delayed ACK), ignores SIGPIPE (a peer closing
 * mid-write must be an error, not a signal), lowers DCMTK's logging to warnings, registers the
 * JPEG-LS, JPEG and RLE codecs and checks that the external data dictionary is loaded.
 * Idempotent; the caller serialises calls.
 */
int rr_runtime_initialize(rr_error *error);

/* MARK: - Dataset inspection (rr_dataset.cpp) */

/** Capacity of UID fields in rr_inspection; longer values arrive cut, and still over 64. */
#define RR_UID_CAPACITY 128

/** Result codes of rr_inspect_file. */
enum {
    RR_INSPECT_OK = 0,
    RR_INSPECT_UNREADABLE = 1,
    RR_INSPECT_PARSE_FAILED = 2,
    RR_INSPECT_EXCEPTION = 3
};

/** What rr_inspect_file found. Strings are NUL-terminated; absent attributes leave has_* = 0. */
typedef struct rr_inspection {
    char sop_class_uid[RR_UID_CAPACITY];
    char sop_instance_uid[RR_UID_CAPACITY];
    char study_instance_uid[RR_UID_CAPACITY];
    char series_instance_uid[RR_UID_CAPACITY];
    char modality[64];
    char transfer_syntax_uid[RR_UID_CAPACITY];
    uint8_t has_sop_class_uid;
    uint8_t has_sop_instance_uid;
    uint8_t has_study_instance_uid;
    uint8_t has_series_instance_uid;
    uint8_t has_modality;
    uint8_t has_pixel_data;
    uint8_t has_meta_header;
} rr_inspection;

/**
 * Loads a DICOM file completely (every value read, no lazy loading) and reports its identity.
 * Exists so a received object is validated before it is acknowledged: DCMTK rejects truncated
 * values, truncated element headers and missing sequence delimiters here, and the shim refuses to
 * run when dcmIgnoreParsingErrors is on. transfer_syntax_hint (may be NULL) is used only for files
 * without a meta header.
 */
int rr_inspect_file(const char *path, const char *transfer_syntax_hint, rr_inspection *out,
                    rr_error *error);

/**
 * 1 when uid is one of DCMTK's known Storage SOP Classes (patient and non-patient objects).
 * Exists so the listener can decide which abstract syntaxes to accept.
 */
int rr_is_storage_sop_class(const char *uid);

/* MARK: - SHA-256 (rr_hash.cpp) */

/** An incremental SHA-256 state (OpenSSL EVP), opaque to the caller. */
typedef struct rr_sha256 rr_sha256;

/** Creates a SHA-256 state; NULL when OpenSSL cannot. Exists to hash objects as they stream in. */
rr_sha256 *rr_sha256_create(void);

/** Adds bytes to the digest. Returns 0 on success. */
int rr_sha256_update(rr_sha256 *state, const void *bytes, size_t count);

/** Writes the 32-byte digest; the state cannot be updated afterwards. Returns 0 on success. */
int rr_sha256_finalize(rr_sha256 *state, uint8_t digest[32]);

/** Frees the state (NULL is fine). */
void rr_sha256_destroy(rr_sha256 *state);

/* MARK: - Storage SCU (rr_scu.cpp) */

/** One outbound association's settings; strings are copied by rr_scu_create. */
typedef struct rr_scu_config {
    const char *host;
    uint16_t port;
    const char *calling_ae;
    const char *called_ae;
    /** Seconds for the TCP connect. Process-global in DCMTK 3.6.7: set before every connect. */
    int32_t connect_timeout;
    /** Seconds for A-ASSOCIATE and A-RELEASE answers. */
    int32_t acse_timeout;
    /** Seconds for a DIMSE response, and for each blocked socket write. */
    int32_t dimse_timeout;
    /** Largest PDU we accept from the peer. */
    uint32_t max_pdu;
} rr_scu_config;

/** How a network operation ended; the Swift side maps these onto FailureClass. */
typedef enum rr_net_kind {
    RR_NET_OK = 0,
    RR_NET_CONNECTION = 1,
    RR_NET_TIMEOUT = 2,
    RR_NET_REJECTED = 3,
    RR_NET_ABORTED = 4,
    RR_NET_LOCAL = 5,
    RR_NET_NO_CONTEXT = 6
} rr_net_kind;

/** The outcome of one SCU operation. has_status is set when the peer sent a DIMSE response. */
typedef struct rr_net_result {
    int32_t kind;
    uint8_t has_status;
    uint16_t status;
    /** A-ASSOCIATE-RJ fields (PS3.8 §9.3.4) when kind is RR_NET_REJECTED. */
    uint8_t reject_result;
    uint8_t reject_source;
    uint8_t reject_reason;
    rr_error error;
} rr_net_result;

/** One presentation context to propose: an abstract syntax with exactly one transfer syntax. */
typedef struct rr_presentation_context {
    const char *abstract_syntax;
    const char *transfer_syntax;
} rr_presentation_context;

/** Called while a dataset is on the wire with the bytes written since the previous call. */
typedef void (*rr_progress_fn)(void *context, uint64_t bytes);

/** An SCU for one destination, holding at most one association. Not thread-safe. */
typedef struct rr_scu rr_scu;

/**
 * Creates an SCU (no network activity yet). Exists because DcmSCU hides the A-ASSOCIATE-RJ
 * parameters and sets the connect timeout globally; the shim drives ASC/DIMSE directly instead.
 */
rr_scu *rr_scu_create(const rr_scu_config *config, rr_error *error);

/** Aborts any open association and frees the SCU (NULL is fine). */
void rr_scu_destroy(rr_scu *scu);

/** 1 while an association is established. */
int rr_scu_is_associated(const rr_scu *scu);

/**
 * Drops the open association when the peer has sent anything while it was idle (an A-ABORT, an
 * A-RELEASE-RQ or a closed connection all make the socket readable; no request is outstanding, so
 * nothing else can be). Exists so a sender never reuses an association the peer already ended.
 * Returns 1 when an association is still open.
 */
int rr_scu_drop_if_peer_closed(rr_scu *scu);

/**
 * Connects and negotiates a new association proposing contexts[0..count) (at most 128).
 * Fails with RR_NET_NO_CONTEXT when the peer accepted none. Returns result->kind.
 */
int rr_scu_associate(rr_scu *scu, const rr_presentation_context *contexts, size_t count,
                     rr_net_result *result);

/**
 * 1 when the open association can carry an object of this class stored in this transfer syntax:
 * a context with that syntax, or an uncompressed one when the shim can convert (uncompressed
 * source, or a compressed one with a registered decoder). Exists so Swift can decide to reuse the
 * association or renegotiate before any bytes move.
 */
int rr_scu_can_send(rr_scu *scu, const char *sop_class_uid, const char *transfer_syntax_uid);

/**
 * Sends the file as one C-STORE and waits for the response. The file's SOP class and instance
 * must equal the expected ones (RR_NET_LOCAL otherwise). RR_NET_OK means a response arrived:
 * its status is in result->status, whatever it says (DCMTK's two channels stay apart). After a
 * transport failure the association is aborted and gone. progress (may be NULL) is called on
 * this thread with context.
 */
int rr_scu_store(rr_scu *scu, const char *path, const char *sop_class_uid,
                 const char *sop_instance_uid, rr_progress_fn progress, void *context,
                 rr_net_result *result);

/** Sends a C-ECHO on the open association's Verification context. Returns result->kind. */
int rr_scu_echo(rr_scu *scu, rr_net_result *result);

/** Releases the open association (A-RELEASE); the association is gone afterwards either way. */
int rr_scu_release(rr_scu *scu, rr_net_result *result);

/** Aborts the open association (A-ABORT), if any. */
void rr_scu_abort(rr_scu *scu);

#ifdef __cplusplus
}
#endif

#endif /* RR_DCMTK_H */
