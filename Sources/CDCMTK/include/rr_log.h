/*
 * rr_log.h: DCMTK's own log output (oflog, a log4cplus fork) handed to a C callback, so that the
 * daemon writes it through its own log handler (the journal) instead of DCMTK's console appender
 * on stderr.
 *
 * Same rules as rr_dcmtk.h (rr_-prefixed, exception-proof), with one deliberate exception: the
 * installed sink and its context are kept and called until another sink replaces them.
 */
#ifndef RR_LOG_H
#define RR_LOG_H

#include "rr_dcmtk.h"

#ifdef __cplusplus
extern "C" {
#endif

/** oflog's levels (dcmtk/oflog/loglevel.h); a message's level is one of these. */
enum {
    RR_LOG_TRACE = 0,
    RR_LOG_DEBUG = 10000,
    RR_LOG_INFO = 20000,
    RR_LOG_WARN = 30000,
    RR_LOG_ERROR = 40000,
    RR_LOG_FATAL = 50000
};

/** Result codes of rr_log_install_sink. */
enum {
    RR_LOG_OK = 0,
    RR_LOG_EXCEPTION = 1
};

/** The most bytes of one message a sink receives (before the " [...]" marker), terminator excluded. */
#define RR_LOG_MESSAGE_LIMIT 1024

/**
 * Receives one DCMTK log message: its oflog level (RR_LOG_*), the DCMTK logger's name (e.g.
 * "dcmtk.dcmdata") and the message. Both strings live only for the call.
 *
 * The message is the first line of what DCMTK logged, control characters replaced by spaces and
 * cut to RR_LOG_MESSAGE_LIMIT bytes (at a UTF-8 character boundary); " [...]" is appended when
 * anything was dropped. DCMTK writes dataset and PDU dumps as further lines of one message (and at
 * debug level), so no dump ever reaches the sink.
 *
 * Called on whichever thread DCMTK logs from (SCU threads, the validation pool), possibly while
 * oflog holds its own locks: the sink must be thread-safe, must not block for long and must not
 * log through DCMTK.
 */
typedef void (*rr_log_sink)(void *context, int level, const char *logger_name, const char *message);

/**
 * Replaces every appender of oflog's root logger with one that calls sink(context, …), and sets
 * the root level to min_level (an RR_LOG_* value; messages below it are never formatted). A NULL
 * sink discards all DCMTK output instead. Calling it again replaces the previous sink.
 *
 * Call it after rr_runtime_initialize: that function's one-time logging set-up also replaces the
 * root logger's appenders. sink and context must stay valid until they are replaced.
 */
int rr_log_install_sink(rr_log_sink sink, void *context, int min_level, rr_error *error);

/**
 * Logs message at level through the DCMTK logger named logger_name, as DCMTK's own code would
 * (subject to the root level). Exists so tests can drive the installed sink with messages DCMTK
 * writes only in rare failures: several lines, or longer than RR_LOG_MESSAGE_LIMIT.
 */
int rr_log_emit(int level, const char *logger_name, const char *message, rr_error *error);

#ifdef __cplusplus
}
#endif

#endif
