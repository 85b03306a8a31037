import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client for tests: one request per connection (`Connection: close`), over
/// TCP (Orthanc's REST API) or a Unix-domain socket (radrelay's control socket). Handles
/// `Content-Length`, chunked and read-to-close bodies. No TLS, no redirects.
public enum SimpleHTTPClient {
    /// Where to connect.
    public enum Endpoint: Sendable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    /// A complete response.
    public struct Response: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends one request and reads the whole response within `timeout` seconds.
    public static func request(
        _ endpoint: Endpoint,
        method: String = "GET",
        path: String,
        body: Data? = nil,
        contentType: String? = nil,
        timeout: TimeInterval = 5
    ) throws -> Response {
        let deadline = monotonicSeconds() + timeout
        let fd: Int32
        let hostHeader: String
        switch endpoint {
        case .tcp(let host, let port):
            fd = try Socket.connectTCP(host: host, port: port, timeout: timeout)
            hostHeader = "\(host):\(port)"
        case .unix(let socketPath):
            fd = try Socket.connectUnix(path: socketPath)
            hostHeader = "localhost"
        }
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\nAccept: */*\r\n"
        if let body {
            head += "Content-Length: \(body.count)\r\n"
            if let contentType { head += "Content-Type: \(contentType)\r\n" }
        }
        head += "\r\n"
        try Socket.writeAll(
            fd, Array(head.utf8) + Array(body ?? Data()), timeout: max(0.1, deadline - monotonicSeconds()))

        var raw: [UInt8] = []
        var headerEnd: Int?
        var status = 0
        var headers: [String: String] = [:]
        while true {
            if headerEnd == nil, let end = findHeaderEnd(raw) {
                headerEnd = end
                (status, headers) = try parseHead(Array(raw[0..<end]))
            }
            if let end = headerEnd, let body = try completeBody(Array(raw[(end + 4)...]), headers: headers, eof: false)
            {
                return Response(status: status, headers: headers, body: Data(body))
            }
            let chunk = try Socket.readSome(fd, timeout: max(0.01, deadline - monotonicSeconds()))
            if chunk.isEmpty {
                guard let end = headerEnd,
                    let body = try completeBody(Array(raw[(end + 4)...]), headers: headers, eof: true)
                else { throw HarnessError("HTTP \(method) \(path): connection closed before a complete response") }
                return Response(status: status, headers: headers, body: Data(body))
            }
            raw += chunk
        }
    }

    /// GET `path` and decode the body as JSON (any top-level value); non-2xx is an error.
    public static func getJSON(_ endpoint: Endpoint, path: String, timeout: TimeInterval = 5) throws -> Any {
        let response = try request(endpoint, path: path, timeout: timeout)
        guard (200..<300).contains(response.status) else {
            throw HarnessError("GET \(path) answered \(response.status): \(response.text.prefix(500))")
        }
        return try JSONSerialization.jsonObject(with: response.body, options: [.fragmentsAllowed])
    }

    private static func findHeaderEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4)
        where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    private static func parseHead(_ bytes: [UInt8]) throws -> (Int, [String: String]) {
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw HarnessError("bad HTTP status line: \(lines.first ?? "")")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    /// The decoded body if `bytes` hold all of it, nil if more must be read.
    private static func completeBody(_ bytes: [UInt8], headers: [String: String], eof: Bool) throws -> [UInt8]? {
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var body: [UInt8] = []
            var i = 0
            while true {
                guard let lineEnd = indexOfCRLF(bytes, from: i) else { return nil }
                let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw HarnessError("bad chunk size in HTTP response")
                }
                let start = lineEnd + 2
                if size == 0 { return body }
                guard bytes.count >= start + size + 2 else { return nil }
                body += bytes[start..<(start + size)]
                i = start + size + 2
            }
        }
        if let length = headers["content-length"].flatMap({ Int($0) }) {
            return bytes.count >= length ? Array(bytes[0..<length]) : nil
        }
        return eof ? bytes : nil
    }

    private static func indexOfCRLF(_ bytes: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 1 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}
