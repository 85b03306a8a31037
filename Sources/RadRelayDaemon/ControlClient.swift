import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.0 client for the daemon's control socket (a Unix stream socket). The server
/// closes each connection after its response, so "read to EOF" frames the reply.
public enum ControlClient {
    /// Errors reaching the daemon.
    public enum Failure: Error, CustomStringConvertible {
        case cannotConnect(path: String, errno: Int32)
        case malformedResponse
        case httpStatus(Int, String)

        public var description: String {
            switch self {
            case .cannotConnect(let path, let code):
                return "cannot connect to \(path): \(String(cString: strerror(code))) (is radrelayd running?)"
            case .malformedResponse: return "malformed response from radrelayd"
            case .httpStatus(let code, let body): return "radrelayd answered HTTP \(code): \(body)"
            }
        }
    }

    /// Sends `method path` with an optional JSON body and returns the response body.
    public static func request(socketPath: String, method: String = "GET", path: String, body: Data? = nil) throws -> Data {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.cannotConnect(path: socketPath, errno: errno) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure.cannotConnect(path: socketPath, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw Failure.cannotConnect(path: socketPath, errno: errno) }

        var head = "\(method) \(path) HTTP/1.0\r\nHost: localhost\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        var outgoing = Data(head.utf8)
        if let body { outgoing.append(body) }
        try outgoing.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { throw Failure.malformedResponse }
                offset += n
            }
        }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            response.append(contentsOf: chunk[0..<n])
        }
        guard let separator = response.range(of: Data("\r\n\r\n".utf8)),
            let statusLine = String(data: response[..<separator.lowerBound], encoding: .utf8)?
                .split(separator: "\r\n").first
        else { throw Failure.malformedResponse }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw Failure.malformedResponse }
        let payload = response[separator.upperBound...]
        guard (200..<300).contains(code) else {
            throw Failure.httpStatus(code, String(decoding: payload, as: UTF8.self))
        }
        return Data(payload)
    }
}
