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

/* MARK: - Nesting depth pre-scan (rr_depth_scan.cpp; fault suite bug 1) */

/** Result codes of rr_scan_nesting_depth. */
enum {
    /** Every sequence closes within max_depth levels. */
    RR_DEPTH_OK = 0,
    /** A sequence opens deeper than max_depth; out->depth is max_depth + 1, out->offset its tag. */
    RR_DEPTH_TOO_DEEP = 1,
    /** The file cannot be opened or is not a regular file. */
    RR_DEPTH_UNREADABLE = 2,
    /** The element stream cannot be followed: it ends inside a header, value, sequence or item,
     *  a value overruns its sequence or item, or an item or delimiter is out of place. */
    RR_DEPTH_MALFORMED = 3,
    RR_DEPTH_EXCEPTION = 4
};

/** What rr_scan_nesting_depth saw. */
typedef struct rr_depth_scan {
    /** Deepest sequence level reached (a top-level sequence is 1; encapsulated pixel data is one). */
    uint32_t depth;
    /** Where the walk stopped: the file offset of the element (for a deflated data set, the
     *  meta header's size plus the offset in the inflated stream); 0 on RR_DEPTH_OK. */
    uint64_t offset;
    /** Elements, items and delimiters walked. */
    uint64_t elements;
} rr_depth_scan;

/**
 * Walks the data set's element stream without recursion (an explicit stack, at most
 * 2 * max_depth + 1 frames) and stops at the first sequence nested deeper than max_depth:
 * undefined- and defined-length sequences and items, UN of undefined length (CP-246) and
 * encapsulated pixel data (one level; fragments are skipped) all count. Exists because DCMTK's
 * parser recurses once per level and ~10 000 levels overflow the validating thread's stack, so
 * this must run, and pass, before rr_inspect_file. Values are skipped, not read (plain files
 * seek, deflated ones inflate through fixed buffers): memory does not grow with the file.
 * Handles explicit and implicit VR little endian, explicit big endian and deflated explicit VR
 * little endian; transfer_syntax_hint (may be NULL) is used only without a meta header.
 */
int rr_scan_nesting_depth(const char *path, const char *transfer_syntax_hint, uint32_t max_depth,
                          rr_depth_scan *out, rr_error *error);

/* MARK: - Attribute values for routing rules (rr_attributes.cpp; issue 4) */

/** Receives the value of the attribute tags[index]: all its values joined by backslashes, as
 * stored (character set not converted), NUL-terminated; "" when present but empty. */
typedef void (*rr_attribute_fn)(void *context, size_t index, const char *value);

/**
 * rr_inspect_file, plus the values of the main-dataset attributes tags[0..count) (each
 * group << 16 | element): found (may be NULL) is called, on this thread, once for each present
 * attribute; absent ones are skipped; sequences report "". Exists so ingest parses a received file
 * once for both validation and routing; same result codes and checks as rr_inspect_file.
 */
int rr_inspect_file_attributes(const char *path, const char *transfer_syntax_hint, const uint32_t *tags,
                               size_t count, rr_attribute_fn found, void *context, rr_inspection *out,
                               rr_error *error);

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
    RR_NET_NO_CONTEXT = 6,
    /** TLS handshake or certificate failure (issue 5, rr_tls.cpp); nothing was sent. */
    RR_NET_TLS = 7
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

/* MARK: - DICOM TLS client (rr_tls.cpp; issue 5) */

/** Outbound DICOM TLS settings; strings are copied by rr_scu_set_tls. */
typedef struct rr_tls_client_config {
    /** PEM bundle of trusted CAs; NULL uses the system's (/etc/ssl/certs). */
    const char *ca_file;
    /** PEM client certificate for mutual TLS, or NULL. */
    const char *certificate_file;
    /** PEM private key of certificate_file, or NULL. */
    const char *private_key_file;
    /** Name to verify and send as SNI instead of the configured host, or NULL. */
    const char *server_name;
    /** 1: the certificate must name the host (X509_VERIFY_PARAM_set1_host / _ip). */
    uint8_t verify_hostname;
} rr_tls_client_config;

/**
 * Makes every later association of this SCU use TLS with the BCP 195 non-downgrading profile
 * (TLS 1.2+), a required and verified server certificate, SNI and a host-name check that
 * DCMTK 3.6.7 does not do itself. The files are read again for each association (rotation
 * without a restart). A handshake failure is RR_NET_TLS, before any DICOM byte is sent.
 * Returns 0.
 */
int rr_scu_set_tls(rr_scu *scu, const rr_tls_client_config *config, rr_error *error);

/* MARK: - Normalization and transcoding (rr_edit.cpp, rr_transcode.cpp; issue 3) */

/** One object loaded for editing and transcoding. Not thread-safe: one per job. */
typedef struct rr_object rr_object;

/**
 * Loads a Part 10 file for a derived variant. Large values (pixel data) are read from the file
 * when needed, so the file must stay until rr_object_close. NULL on failure.
 */
rr_object *rr_object_open(const char *path, rr_error *error);

/** Frees the object (NULL is fine). */
void rr_object_close(rr_object *object);

/** What the transcoding policy and the charset handling need to know about an opened object. */
typedef struct rr_object_info {
    char transfer_syntax_uid[RR_UID_CAPACITY];
    /** (0008,0005) as stored, values joined by backslashes; empty when absent. */
    char specific_character_set[RR_UID_CAPACITY];
    uint8_t has_specific_character_set;
    /** Top-level (7FE0,0010) Pixel Data is present. */
    uint8_t has_pixel_data;
    /** Some text element holds bytes outside ASCII. */
    uint8_t has_extended_characters;
} rr_object_info;

/** Fills info. Returns 0. */
int rr_object_get_info(rr_object *object, rr_object_info *info, rr_error *error);

/** Result codes of rr_object_get_text. */
enum {
    RR_TEXT_PRESENT = 0,
    RR_TEXT_ABSENT = 1,
    /** Present, but not text (UI, SQ, binary VRs): rules may only remove it. */
    RR_TEXT_NOT_TEXT = 2,
    /** The buffer is too small; *length holds the size needed. */
    RR_TEXT_TOO_SMALL = 3,
    RR_TEXT_FAILED = 4
};

/**
 * Reads a top-level attribute (tag = group << 16 | element) as UTF-8 for the rule engine: all
 * values joined by backslashes, padding removed, decoded from the declared Specific Character
 * Set, else from assumed_charset (may be NULL), else as Latin-1 when bytes outside ASCII appear.
 * Exists because Swift cannot reach DCMTK's element API or its iconv-based converter.
 */
int rr_object_get_text(rr_object *object, uint32_t tag, const char *assumed_charset, char *buffer,
                       size_t capacity, size_t *length, rr_error *error);

/** One net change of a pass: set the UTF-8 value, or remove the attribute. */
typedef struct rr_attribute_edit {
    uint32_t tag;
    const char *value;
    size_t length;
    uint8_t remove;
} rr_attribute_edit;

/** One normalization pass and what its Original Attributes Sequence item says. */
typedef struct rr_normalization_pass {
    const rr_attribute_edit *edits;
    size_t count;
    /** Convert the object's text to ISO_IR 192 (UTF-8) first. */
    uint8_t convert_to_utf8;
    /** Source character set for objects without (0008,0005), or NULL. */
    const char *assumed_charset;
    /** (0400,0563), (0400,0564), (0400,0565) and the DT of (0400,0562) and (0008,0015). */
    const char *modifying_system;
    const char *source_of_previous_values;
    const char *reason;
    const char *date_time;
} rr_normalization_pass;

/** What rr_object_apply_pass did besides the edits. */
typedef struct rr_pass_result {
    /** The text was converted to UTF-8 (asked for, or needed to write a value). */
    uint8_t converted_charset;
    /** Conversion was asked for, but non-ASCII text has no declared or assumed character set. */
    uint8_t charset_unknown;
    /** An Original Attributes Sequence item was appended. */
    uint8_t recorded;
} rr_pass_result;

/**
 * Applies one pass to the loaded object (PS3.3 C.12.1.1.9): copies the prior value of every
 * edited attribute (zero length when it was absent) into a new Modified Attributes Sequence item,
 * converts the text to UTF-8 when asked (recording only the old Specific Character Set), applies
 * the edits, appends the item to (0400,0561) with Attribute Modification DateTime, Modifying
 * System, Source of Previous Values and Reason, and sets Instance Coercion DateTime. Existing
 * items are kept. Refuses (and changes nothing) edits of UIDs, sequences, binary values, the
 * meta header, the character set, the coercion record and pixel data. Returns 0 or -1.
 */
int rr_object_apply_pass(rr_object *object, const rr_normalization_pass *pass, rr_pass_result *result,
                         rr_error *error);

/** Outcomes of rr_object_save. */
enum {
    /** Written in its own transfer syntax (no transcoding asked). */
    RR_SAVE_WRITTEN = 0,
    /** Written in the target syntax (and verified when asked). */
    RR_SAVE_TRANSCODED = 1,
    /** The codec refused the image (bit depth, photometric interpretation, short data…). */
    RR_SAVE_CODEC_FAILED = 2,
    /** The written file's decoded pixel data differs from the source's (or cannot be decoded). */
    RR_SAVE_MISMATCH = 3,
    /** The file could not be written. */
    RR_SAVE_WRITE_FAILED = 4
};

/** What rr_object_save did. */
typedef struct rr_save_result {
    int32_t outcome;
    /** Transfer syntax of the written file. */
    char transfer_syntax_uid[RR_UID_CAPACITY];
    /** Bytes of native pixel data hashed for the verification (0 when none was made). */
    uint64_t pixel_bytes;
    uint8_t verified;
    /** Seconds spent decoding the source, encoding and writing; and verifying. */
    double encode_seconds;
    double verify_seconds;
} rr_save_result;

/**
 * Writes the object as a new Part 10 file at path, in target_syntax_uid (NULL or "" keeps its
 * syntax). Transcoding uses the codecs registered by rr_runtime_initialize with lossless
 * parameters and changes nothing but the encoding (DCMTK's JPEG note in Derivation Description
 * is undone). With verify, the written file is loaded again, decoded, and its pixel data's
 * SHA-256 must equal the source's. On any outcome but WRITTEN/TRANSCODED the caller deletes the
 * file and falls back. Exists so codec work runs in one call on a worker thread.
 */
int rr_object_save(rr_object *object, const char *path, const char *target_syntax_uid, int verify,
                   rr_save_result *result, rr_error *error);

#ifdef __cplusplus
}
#endif

#endif /* RR_DCMTK_H */
