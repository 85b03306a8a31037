// DCMTK's log (oflog) handed to a C callback; see rr_log.h. The daemon routes it into its own
// journal handler at warning and above (issue 6) instead of DCMTK's console appender on stderr.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/oflog/appender.h"
#include "dcmtk/oflog/logger.h"
#include "dcmtk/oflog/nullap.h"
#include "dcmtk/oflog/spi/logevent.h"

#include "rr_internal.h"
#include "rr_log.h"

#include <cstddef>
#include <string>

namespace {

namespace l4 = dcmtk::log4cplus;

/// The most bytes of a logger name passed on (DCMTK's are short: "dcmtk.dcmnet").
constexpr std::size_t loggerNameLimit = 128;

/// Appended when a message lost lines or bytes.
constexpr const char *droppedMarker = " [...]";

/// The first line of `text`, control characters replaced by spaces, trailing spaces removed, cut
/// to `limit` bytes without splitting a UTF-8 sequence; `droppedMarker` appended when anything
/// but whitespace was left out. Only the first line, because DCMTK appends dataset, PDU and
/// condition-stack dumps as further lines of the same message; the first line names tags and
/// AE titles, not element values.
std::string firstLine(const char *text, std::size_t length, std::size_t limit) {
    std::string line;
    std::size_t index = 0;
    for (; index < length && text[index] != '\n' && text[index] != '\r'; ++index) {
        const unsigned char c = static_cast<unsigned char>(text[index]);
        line.push_back(c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c));
    }
    bool dropped = false;
    for (; index < length; ++index) {
        const char c = text[index];
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
            dropped = true;
            break;
        }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (line.size() > limit) {
        std::size_t cut = limit;
        // Back off to the start of the character that straddles the limit.
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        line.resize(cut);
        dropped = true;
    }
    if (dropped) line += droppedMarker;
    return line;
}

/// The root logger's only appender while a sink is installed. Its fields never change after
/// construction; oflog serialises `append` per appender, and the sink is thread-safe anyway.
class SinkAppender final : public l4::Appender {
public:
    SinkAppender(rr_log_sink sink, void *context) : sink_(sink), context_(context) {}

    ~SinkAppender() override { destructorImpl(); }

    void close() override { closed = true; }

protected:
    void append(const l4::spi::InternalLoggingEvent &event) override {
        // An exception must not unwind through DCMTK's logging macros into the code that logged.
        try {
            const l4::tstring &message = event.getMessage();
            const l4::tstring &name = event.getLoggerName();
            const std::string text = firstLine(message.c_str(), message.length(), RR_LOG_MESSAGE_LIMIT);
            const std::string logger = firstLine(name.c_str(), name.length(), loggerNameLimit);
            sink_(context_, static_cast<int>(event.getLogLevel()), logger.c_str(), text.c_str());
        } catch (...) {
        }
    }

private:
    const rr_log_sink sink_;
    void *const context_;
};

}  // namespace

int rr_log_install_sink(rr_log_sink sink, void *context, int min_level, rr_error *error) {
    rr::clearError(error);
    try {
        l4::SharedAppenderPtr appender(sink != nullptr ? static_cast<l4::Appender *>(new SinkAppender(sink, context))
                                                       : static_cast<l4::Appender *>(new l4::NullAppender()));
        appender->setName(DCMTK_LOG4CPLUS_TEXT("radrelay"));
        l4::Logger root = l4::Logger::getRoot();
        // Add the new appender before removing the old ones, so no message in between finds the
        // root logger without an appender (oflog would complain on stderr).
        const l4::SharedAppenderPtrList previous = root.getAllAppenders();
        root.addAppender(appender);
        for (const l4::SharedAppenderPtr &old : previous) {
            if (old.get() != appender.get()) root.removeAppender(old);
        }
        root.setLogLevel(static_cast<l4::LogLevel>(min_level));
        return RR_LOG_OK;
    } catch (...) {
        rr::setExceptionError(error);
        return RR_LOG_EXCEPTION;
    }
}

int rr_log_emit(int level, const char *logger_name, const char *message, rr_error *error) {
    rr::clearError(error);
    try {
        const l4::Logger logger = l4::Logger::getInstance(logger_name != nullptr ? logger_name : "dcmtk");
        logger.log(static_cast<l4::LogLevel>(level), message != nullptr ? message : "");
        return RR_LOG_OK;
    } catch (...) {
        rr::setExceptionError(error);
        return RR_LOG_EXCEPTION;
    }
}
