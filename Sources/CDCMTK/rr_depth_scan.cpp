// Fault suite bug 1: DCMTK's parser recurses once per nested sequence, so a small data set of
// ~10 000 nested sequences overflows the validating thread's stack (SIGSEGV) inside loadFile.
// This walks the same element stream without recursion, with an explicit stack, and reports how
// deep the sequences go, so the caller can refuse the object before DCMTK ever parses it.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcistrma.h"
#include "dcmtk/dcmdata/dcistrmf.h"
#include "dcmtk/dcmdata/dctag.h"

#include "rr_internal.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

constexpr uint32_t kUndefinedLength = 0xFFFFFFFFu;
constexpr uint64_t kOpenEnded = UINT64_MAX;
/// readMeta: the file has no Part 10 meta header (not an error; a bare data set).
constexpr int kNotPart10 = -1;

/// Why the walk stopped early; the message is constant (no data values).
struct Stop {
    int code;
    const char *message;
};

/// Forward-only reader over a DcmInputStream with a few bytes of look-ahead and a position
/// counter. Values are skipped with the stream's skip (an fseek for plain files, inflate-and-
/// discard for deflated ones), so a multi-gigabyte object costs no memory.
class Reader {
public:
    explicit Reader(DcmInputStream &stream) : stream_(stream) {}

    /// Bytes consumed so far (decompressed bytes once a deflate filter is installed).
    uint64_t position() const { return position_; }

    /// True when nothing is left.
    bool atEnd() { return count_ == 0 && !fill(1); }

    /// Copies the next n (≤ 16) bytes without consuming them; false at the end of the stream.
    bool peek(uint8_t *out, std::size_t n) {
        if (!fill(n)) return false;
        std::memcpy(out, lookahead_, n);
        return true;
    }

    /// Consumes n (≤ 16) bytes; false when fewer are left.
    bool read(uint8_t *out, std::size_t n) {
        if (!peek(out, n)) return false;
        drop(n);
        return true;
    }

    /// Consumes n bytes without keeping them; false when fewer are left.
    bool skip(uint64_t n) {
        const std::size_t buffered = n < count_ ? static_cast<std::size_t>(n) : count_;
        drop(buffered);
        n -= buffered;
        int idle = 0;
        while (n > 0) {
            // Stay well inside offile_off_t on every platform.
            const offile_off_t chunk = static_cast<offile_off_t>(n < (1u << 30) ? n : (1u << 30));
            const offile_off_t skipped = stream_.skip(chunk);
            if (skipped <= 0) {
                if (!stream_.good() || stream_.eos() || ++idle > 16) return false;
                continue;
            }
            idle = 0;
            n -= static_cast<uint64_t>(skipped);
            position_ += static_cast<uint64_t>(skipped);
        }
        return true;
    }

private:
    bool fill(std::size_t n) {
        int idle = 0;
        while (count_ < n) {
            if (!stream_.good() || stream_.eos()) return false;
            const offile_off_t got = stream_.read(lookahead_ + count_, static_cast<offile_off_t>(n - count_));
            if (got <= 0) {
                // A filter may return nothing once while it refills; a stream that keeps
                // returning nothing without reaching its end is treated as ended.
                if (++idle > 16) return false;
                continue;
            }
            idle = 0;
            count_ += static_cast<std::size_t>(got);
        }
        return true;
    }

    void drop(std::size_t n) {
        std::memmove(lookahead_, lookahead_ + n, count_ - n);
        count_ -= n;
        position_ += n;
    }

    DcmInputStream &stream_;
    uint8_t lookahead_[16];
    std::size_t count_ = 0;
    uint64_t position_ = 0;
};

/// How the elements at the current position are encoded.
struct Encoding {
    bool implicit;
    bool bigEndian;
};

uint16_t u16(const uint8_t *p, bool big) {
    return big ? static_cast<uint16_t>(p[0] << 8 | p[1]) : static_cast<uint16_t>(p[1] << 8 | p[0]);
}

uint32_t u32(const uint8_t *p, bool big) {
    return big ? (uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3])
               : (uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]);
}

/// The standard VRs with a 2-byte length in explicit VR (PS3.5 Table 7.1-2). Everything else,
/// unknown VRs included, has 2 reserved bytes and a 4-byte length, as DCMTK reads them.
bool hasShortLength(const uint8_t vr[2]) {
    static const char *const shortVRs[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO",
                                           "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"};
    for (const char *candidate : shortVRs) {
        if (vr[0] == static_cast<uint8_t>(candidate[0]) && vr[1] == static_cast<uint8_t>(candidate[1])) return true;
    }
    return false;
}

bool isUpper(uint8_t c) { return c >= 'A' && c <= 'Z'; }

enum class Kind : uint8_t { sequence, item, fragments };

struct Frame {
    Kind kind;
    /// Absolute position where a defined-length container ends; kOpenEnded when undefined.
    uint64_t end;
    /// Encoding of the elements inside (an undefined-length UN holds Implicit VR Little Endian).
    Encoding inside;
};

/// Reads the Part 10 meta header (128-byte preamble, "DICM", group 0002 in Explicit VR Little
/// Endian) and returns the data set's transfer syntax from (0002,0010). stop.code is
/// kNotPart10 when the file does not start with one.
bool readMeta(Reader &r, std::string &syntax, Stop &stop) {
    uint8_t probe[16];
    for (int i = 0; i < 8; ++i) {
        if (!r.read(probe, 16)) {
            stop = {kNotPart10, "no Part 10 meta header"};
            return false;
        }
    }
    if (!r.read(probe, 4) || std::memcmp(probe, "DICM", 4) != 0) {
        stop = {kNotPart10, "no Part 10 meta header"};
        return false;
    }
    syntax.clear();
    for (;;) {
        uint8_t header[8];
        if (!r.peek(header, 2)) return true;  // a file that is only a meta header
        if (u16(header, false) != 0x0002) return true;
        if (!r.read(header, 8)) {
            stop = {RR_DEPTH_MALFORMED, "the meta header ends inside an element header"};
            return false;
        }
        const uint16_t element = u16(header + 2, false);
        uint32_t length = u16(header + 6, false);
        if (!hasShortLength(header + 4)) {
            uint8_t longLength[4];
            if (!r.read(longLength, 4)) {
                stop = {RR_DEPTH_MALFORMED, "the meta header ends inside an element header"};
                return false;
            }
            length = u32(longLength, false);
        }
        if (length == kUndefinedLength) {
            stop = {RR_DEPTH_MALFORMED, "undefined length in the meta header"};
            return false;
        }
        if (element == 0x0010 && length <= 128) {
            uint8_t value[16];
            uint32_t left = length;
            while (left > 0) {
                const std::size_t n = left < 16 ? left : 16;
                if (!r.read(value, n)) {
                    stop = {RR_DEPTH_MALFORMED, "the meta header ends inside a value"};
                    return false;
                }
                syntax.append(reinterpret_cast<const char *>(value), n);
                left -= static_cast<uint32_t>(n);
            }
            while (!syntax.empty() && (syntax.back() == '\0' || syntax.back() == ' ')) syntax.pop_back();
        } else if (!r.skip(length)) {
            stop = {RR_DEPTH_MALFORMED, "the meta header ends inside a value"};
            return false;
        }
    }
}

/// Walks the data set. Returns RR_DEPTH_OK or fills stop.
int walk(Reader &reader, Encoding top, uint32_t limit, rr_depth_scan *out, Stop &stop) {
    std::vector<Frame> stack;
    // At most 2 * limit + 1 frames are ever pushed (a sequence and its item per level).
    stack.reserve(limit < 1024 ? 2 * static_cast<std::size_t>(limit) + 2 : 2048);
    uint32_t open = 0;  // sequences (and fragment sequences) on the stack
    for (;;) {
        // Close the defined-length containers that end here.
        while (!stack.empty() && stack.back().end != kOpenEnded && reader.position() >= stack.back().end) {
            if (reader.position() > stack.back().end) {
                stop = {RR_DEPTH_MALFORMED, "a value runs past the end of its sequence or item"};
                return stop.code;
            }
            if (stack.back().kind != Kind::item) --open;
            stack.pop_back();
        }
        const uint64_t at = reader.position();
        out->offset = at;
        if (reader.atEnd()) {
            if (stack.empty()) {
                out->offset = 0;
                return RR_DEPTH_OK;
            }
            stop = {RR_DEPTH_MALFORMED, "the data set ends inside a sequence or item"};
            return stop.code;
        }
        const Encoding encoding = stack.empty() ? top : stack.back().inside;
        const bool big = encoding.bigEndian;
        uint8_t header[8];
        if (!reader.read(header, 4)) {
            stop = {RR_DEPTH_MALFORMED, "the data set ends inside an element header"};
            return stop.code;
        }
        const uint16_t group = u16(header, big);
        const uint16_t element = u16(header + 2, big);
        ++out->elements;

        // Items and delimiters: tag and a 4-byte length in every transfer syntax (PS3.5 §7.5).
        if (group == 0xFFFE) {
            if (!reader.read(header, 4)) {
                stop = {RR_DEPTH_MALFORMED, "the data set ends inside an element header"};
                return stop.code;
            }
            const uint32_t length = u32(header, big);
            const Kind parent = stack.empty() ? Kind::item : stack.back().kind;
            if (element == 0xE000 && parent == Kind::fragments) {
                // A fragment of encapsulated pixel data (PS3.5 A.4): opaque bytes, no nesting.
                if (length == kUndefinedLength) {
                    stop = {RR_DEPTH_MALFORMED, "a pixel data fragment of undefined length"};
                    return stop.code;
                }
                if (!reader.skip(length)) {
                    stop = {RR_DEPTH_MALFORMED, "a value runs past the end of the file"};
                    return stop.code;
                }
            } else if (element == 0xE000 && parent == Kind::sequence) {
                const uint64_t end = length == kUndefinedLength ? kOpenEnded : reader.position() + length;
                stack.push_back({Kind::item, end, stack.back().inside});
            } else if (element == 0xE00D && parent == Kind::item && !stack.empty() &&
                       stack.back().end == kOpenEnded) {
                stack.pop_back();
            } else if (element == 0xE0DD && !stack.empty() && parent != Kind::item &&
                       stack.back().end == kOpenEnded) {
                stack.pop_back();
                --open;
            } else {
                stop = {RR_DEPTH_MALFORMED, "an item or delimiter out of place"};
                return stop.code;
            }
            continue;
        }
        if (!stack.empty() && stack.back().kind != Kind::item) {
            stop = {RR_DEPTH_MALFORMED, "an element where a sequence item was expected"};
            return stop.code;
        }

        // An ordinary element: its length, and whether it opens a container.
        uint32_t length = 0;
        bool sequence = false;
        bool fragments = false;
        Encoding inside = encoding;
        if (encoding.implicit) {
            if (!reader.read(header, 4)) {
                stop = {RR_DEPTH_MALFORMED, "the data set ends inside an element header"};
                return stop.code;
            }
            length = u32(header, big);
            if (length == kUndefinedLength) {
                // Implicit VR: undefined length means a sequence, except pixel data.
                fragments = group == 0x7FE0 && element == 0x0010;
                sequence = !fragments;
            } else if (length >= 8) {
                // A defined-length sequence starts with an item tag. Ask the dictionary first,
                // so a binary value that happens to start with those bytes is not descended into;
                // tags it does not know as something else (private ones) are judged by the bytes.
                const DcmEVR known = DcmTag(group, element).getEVR();
                if (known == EVR_SQ || known == EVR_UNKNOWN || known == EVR_UNKNOWN2B || known == EVR_UN) {
                    uint8_t first[4];
                    if (reader.peek(first, 4) && u16(first, big) == 0xFFFE && u16(first + 2, big) == 0xE000) {
                        sequence = true;
                    }
                }
            }
        } else {
            uint8_t vr[2];
            if (!reader.read(vr, 2)) {
                stop = {RR_DEPTH_MALFORMED, "the data set ends inside an element header"};
                return stop.code;
            }
            if (hasShortLength(vr)) {
                if (!reader.read(header, 2)) {
                    stop = {RR_DEPTH_MALFORMED, "the data set ends inside an element header"};
                    return stop.code;
                }
                length = u16(header, big);
            } else {
                if (!reader.read(header, 6)) {
                    stop = {RR_DEPTH_MALFORMED, "the data set ends inside an element header"};
                    return stop.code;
                }
                length = u32(header + 2, big);
            }
            const bool isSQ = vr[0] == 'S' && vr[1] == 'Q';
            const bool isOther = vr[0] == 'O' && (vr[1] == 'B' || vr[1] == 'W' || vr[1] == 'F' || vr[1] == 'D' ||
                                                  vr[1] == 'L' || vr[1] == 'V');
            if (isSQ) {
                sequence = true;
            } else if (length == kUndefinedLength && isOther) {
                fragments = true;  // encapsulated pixel data
            } else if (length == kUndefinedLength) {
                // UN (or an unknown VR) of undefined length holds a sequence in Implicit VR Little
                // Endian (PS3.5 §6.2.2, CP-246), which DCMTK parses as one.
                sequence = true;
                inside = {true, false};
            }
        }
        if (sequence || fragments) {
            if (open + 1 > limit) {
                out->depth = open + 1;
                stop = {RR_DEPTH_TOO_DEEP, "sequences nested deeper than the limit"};
                return stop.code;
            }
            ++open;
            if (open > out->depth) out->depth = open;
            const uint64_t end = length == kUndefinedLength ? kOpenEnded : reader.position() + length;
            stack.push_back({fragments ? Kind::fragments : Kind::sequence, end, inside});
            continue;
        }
        if (length == kUndefinedLength) {
            stop = {RR_DEPTH_MALFORMED, "undefined length on an element that cannot have it"};
            return stop.code;
        }
        if (!reader.skip(length)) {
            stop = {RR_DEPTH_MALFORMED, "a value runs past the end of the file"};
            return stop.code;
        }
    }
}

}  // namespace

int rr_scan_nesting_depth(const char *path, const char *transfer_syntax_hint, uint32_t max_depth,
                          rr_depth_scan *out, rr_error *error) {
    rr::clearError(error);
    try {
        if (out == nullptr) return RR_DEPTH_EXCEPTION;
        std::memset(out, 0, sizeof *out);
        struct stat info;
        if (path == nullptr || stat(path, &info) != 0) {
            rr::setError(error, path == nullptr ? "no path" : std::strerror(errno));
            return RR_DEPTH_UNREADABLE;
        }
        if (!S_ISREG(info.st_mode)) {
            rr::setError(error, "not a regular file");
            return RR_DEPTH_UNREADABLE;
        }
        Stop stop = {RR_DEPTH_OK, ""};
        const bool hinted = transfer_syntax_hint != nullptr && transfer_syntax_hint[0] != '\0';
        std::string syntax;
        uint64_t datasetStart = 0;
        bool part10 = true;
        {
            DcmInputFileStream meta(path);
            if (!meta.good()) {
                rr::setError(error, meta.status());
                return RR_DEPTH_UNREADABLE;
            }
            Reader reader(meta);
            if (readMeta(reader, syntax, stop)) {
                datasetStart = reader.position();
            } else if (stop.code == kNotPart10) {
                part10 = false;
            } else {
                out->offset = reader.position();
                rr::setError(error, stop.message);
                return stop.code;
            }
        }
        if (!part10 && hinted) syntax = transfer_syntax_hint;
        // The data set is read by a fresh stream that starts where it starts: the meta reader's
        // look-ahead may hold bytes of it, and a deflate filter must see the stream from its
        // first byte.
        DcmInputFileStream stream(path, static_cast<offile_off_t>(datasetStart));
        if (!stream.good()) {
            rr::setError(error, stream.status());
            return RR_DEPTH_UNREADABLE;
        }
        Encoding encoding = {false, false};
        if (syntax == "1.2.840.10008.1.2") {
            encoding.implicit = true;
        } else if (syntax == "1.2.840.10008.1.2.2") {
            encoding.bigEndian = true;
        } else if (syntax == "1.2.840.10008.1.2.1.99") {
            // Deflated Explicit VR Little Endian: the data set after the meta header is a raw
            // deflate stream. DCMTK's own zlib filter inflates it as the walk goes (fixed
            // buffers; skipped values are inflated and dropped).
            OFCondition installed = stream.installCompressionFilter(ESC_zlib);
            if (installed.bad()) {
                rr::setError(error, installed);
                return RR_DEPTH_MALFORMED;
            }
        }
        Reader reader(stream);
        if (syntax.empty()) {
            // A bare data set without a hint: guess as DCMTK does from the first element. An
            // upper-case VR after the tag means explicit VR; a group whose high byte comes
            // first (00 08, not 08 00) means big endian.
            uint8_t probe[6];
            if (reader.peek(probe, 6)) {
                encoding.implicit = !(isUpper(probe[4]) && isUpper(probe[5]));
                encoding.bigEndian = !encoding.implicit && probe[0] == 0 && probe[1] != 0;
            }
        }
        // Every other syntax (explicit little endian and all the encapsulated ones) is Explicit
        // VR Little Endian; an unknown private one is assumed to be too, and if it is not, the
        // walk fails and the object is refused as unparseable rather than parsed unchecked.
        const int code = walk(reader, encoding, max_depth, out, stop);
        if (code != RR_DEPTH_OK) {
            rr::setError(error, stop.message);
            out->offset += datasetStart;
        }
        return code;
    } catch (...) {
        rr::setExceptionError(error);
        return RR_DEPTH_EXCEPTION;
    }
}
