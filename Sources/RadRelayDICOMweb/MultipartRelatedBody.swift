#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// A `multipart/related; type="application/dicom"` body (PS3.18 §8.6.1.2, RFC 2387) streamed
/// from Part 10 files: each part is read from disk in `chunkSize` pieces only when the HTTP
/// client asks for more (it asks when the socket can take bytes), so a request of any size
/// holds about one chunk in memory. The length is known up front (Content-Length, no chunked
/// encoding) from the files' sizes when the body is made.
public struct MultipartRelatedBody: Sendable {
    /// The boundary, random per request (128 bits) so no file can contain it by chance.
    public let boundary: String
    /// The files, with their sizes when the body was made.
    let files: [(path: String, size: UInt64)]
    /// Exact body length in bytes.
    public let length: Int64
    /// Bytes read from disk per chunk.
    let chunkSize: Int
    /// Called before each chunk goes out with its byte count; may suspend (bandwidth pacing).
    let pace: (@Sendable (Int) async -> Void)?

    /// The `Content-Type` request header.
    public var contentType: String { "multipart/related; type=\"application/dicom\"; boundary=\(boundary)" }

    /// Stats every file now. Throws `MultipartBodyError.unreadable(index:)` naming the first
    /// file that cannot be opened.
    public init(
        paths: [String],
        chunkSize: Int = 256 * 1024,
        boundary: String = MultipartRelatedBody.randomBoundary(),
        pace: (@Sendable (Int) async -> Void)? = nil
    ) throws {
        var files: [(String, UInt64)] = []
        for (index, path) in paths.enumerated() {
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw MultipartBodyError.unreadable(index: index, errno: errno)
            }
            files.append((path, UInt64(info.st_size)))
        }
        self.files = files
        self.boundary = boundary
        self.chunkSize = max(4096, chunkSize)
        self.pace = pace
        var total: Int64 = 0
        for (index, file) in files.enumerated() {
            total += Int64(Self.partHead(boundary, first: index == 0).utf8.count) + Int64(file.1)
        }
        total += Int64(Self.closing(boundary, empty: files.isEmpty).utf8.count)
        self.length = total
    }

    /// `radrelay-` and 32 random hex digits.
    public static func randomBoundary() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<2).map { _ in
            let value = generator.next() as UInt64
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }
        return "radrelay-" + hex.joined()
    }

    /// The delimiter and part headers before a part (the CRLF before a delimiter belongs to it,
    /// RFC 2046 §5.1.1).
    static func partHead(_ boundary: String, first: Bool) -> String {
        (first ? "" : "\r\n") + "--\(boundary)\r\nContent-Type: application/dicom\r\n\r\n"
    }

    static func closing(_ boundary: String, empty: Bool) -> String {
        (empty ? "" : "\r\n") + "--\(boundary)--\r\n"
    }

    /// The body as an async sequence of buffers.
    public var chunks: Chunks { Chunks(body: self) }

    /// Reads lazily; iterating twice reads the files twice.
    public struct Chunks: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        let body: MultipartRelatedBody

        public func makeAsyncIterator() -> Iterator { Iterator(body: body) }

        public struct Iterator: AsyncIteratorProtocol {
            let body: MultipartRelatedBody
            private var fileIndex = 0
            private var offset: UInt64 = 0
            private var file = OpenFile()
            private var headSent = false
            private var finished = false

            init(body: MultipartRelatedBody) { self.body = body }

            public mutating func next() async throws -> ByteBuffer? {
                if finished { return nil }
                guard fileIndex < body.files.count else {
                    finished = true
                    return ByteBuffer(string: MultipartRelatedBody.closing(body.boundary, empty: body.files.isEmpty))
                }
                let file = body.files[fileIndex]
                var buffer = ByteBuffer()
                if !headSent {
                    headSent = true
                    buffer.writeString(MultipartRelatedBody.partHead(body.boundary, first: fileIndex == 0))
                    let fd = open(file.path, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw MultipartBodyError.unreadable(index: fileIndex, errno: errno) }
                    self.file = OpenFile(fd)
                }
                let remaining = file.size - offset
                if remaining > 0 {
                    let want = Int(Swift.min(UInt64(body.chunkSize), remaining))
                    if let pace = body.pace { await pace(want) }
                    var chunk = try await Self.read(self.file.descriptor, offset: offset, count: want, index: fileIndex)
                    offset += UInt64(chunk.readableBytes)
                    buffer.writeBuffer(&chunk)
                }
                if offset >= file.size {
                    self.file = OpenFile()
                    fileIndex += 1
                    offset = 0
                    headSent = false
                }
                return buffer
            }

            /// One pread on the blocking pool (disk reads never run on an event loop or the
            /// cooperative pool). A file that shrank since it was stat'ed is an error: the
            /// declared Content-Length could no longer be met.
            private static func read(_ fd: Int32, offset: UInt64, count: Int, index: Int) async throws -> ByteBuffer {
                try await NIOThreadPool.singleton.runIfActive {
                    var buffer = ByteBufferAllocator().buffer(capacity: count)
                    var got = 0
                    while got < count {
                        var n = 0
                        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - got) { raw in
                            n = pread(fd, raw.baseAddress, count - got, off_t(offset) + off_t(got))
                            return Swift.max(n, 0)
                        }
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw MultipartBodyError.unreadable(index: index, errno: errno)
                        }
                        if n == 0 { throw MultipartBodyError.truncated(index: index) }
                        got += n
                    }
                    return buffer
                }
            }
        }
    }
}

/// Owns a file descriptor: closed when replaced or when an abandoned iterator goes away (a
/// cancelled request must not leak descriptors).
final class OpenFile: @unchecked Sendable {
    let descriptor: Int32
    init(_ descriptor: Int32 = -1) { self.descriptor = descriptor }
    deinit { if descriptor >= 0 { close(descriptor) } }
}

/// Why a body could not be produced; `index` is the instance's position in the request.
public enum MultipartBodyError: Error, Equatable {
    case unreadable(index: Int, errno: Int32)
    case truncated(index: Int)

    var index: Int {
        switch self {
        case .unreadable(let index, _), .truncated(let index): return index
        }
    }
}
