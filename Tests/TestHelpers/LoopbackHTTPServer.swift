// A tiny HTTP/1.1 server on 127.0.0.1 for the fetch tests (ARCFetchTests, and `arc-pipeline fetch`
// in ArcPipelineTests): serves byte ranges and injects faults (status codes, N failures before
// success, a connection closed mid-body).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class LoopbackHTTPServer: @unchecked Sendable {
    public enum Behaviour {
        case serve
        case status(Int)
        /// Answer `status` for the first `times` requests, then serve.
        case failFirst(times: Int, status: Int)
        /// On the first request send half the body (with the full Content-Length) and close.
        case closeMidBodyOnce
        /// Claim this Content-Length (a hostile server), send the body, and close.
        case claimLength(Int64)
    }

    struct Route {
        var body: Data
        var behaviour: Behaviour
    }

    public private(set) var port: UInt16 = 0
    private var listenFD: Int32 = -1
    private let lock = NSLock()
    private var routes: [String: Route] = [:]
    private var counts: [String: Int] = [:]
    private var rangeHeaders: [String: [String?]] = [:]
    private var stopped = false
    private var acceptThread: Thread?

    public var baseURL: String { "http://127.0.0.1:\(port)/" }

    public init() throws {
        listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listenFD >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listenFD, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        let t = Thread { [weak self] in self?.acceptLoop() }
        acceptThread = t
        t.start()
    }

    deinit { stop() }

    public func stop() {
        lock.lock()
        let fd = listenFD
        stopped = true
        listenFD = -1
        lock.unlock()
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    public func add(_ path: String, _ body: Data, _ behaviour: Behaviour = .serve) {
        lock.lock(); defer { lock.unlock() }
        routes["/" + path] = Route(body: body, behaviour: behaviour)
    }

    public func requestCount(_ path: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return counts["/" + path] ?? 0
    }

    public func ranges(_ path: String) -> [String?] {
        lock.lock(); defer { lock.unlock() }
        return rangeHeaders["/" + path] ?? []
    }

    private func acceptLoop() {
        while true {
            lock.lock()
            let fd = listenFD
            let done = stopped
            lock.unlock()
            if done || fd < 0 { return }
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let t = Thread { [weak self] in
                self?.handle(client)
                close(client)
            }
            t.start()
        }
    }

    private func readRequest(_ fd: Int32) -> (path: String, headers: [String: String])? {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
            if let text = String(bytes: buffer, encoding: .utf8), text.contains("\r\n\r\n") {
                let lines = text.components(separatedBy: "\r\n")
                let parts = lines[0].split(separator: " ")
                guard parts.count >= 2 else { return nil }
                var headers = [String: String]()
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                return (String(parts[1]), headers)
            }
        }
    }

    private func send(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                offset += n
            }
        }
    }

    private func respond(_ fd: Int32, status: Int, reason: String, headers: [String] = [], body: Data) {
        var head = "HTTP/1.1 \(status) \(reason)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for h in headers { head += h + "\r\n" }
        send(fd, Data((head + "\r\n").utf8) + body)
    }

    private func handle(_ fd: Int32) {
        guard let (path, headers) = readRequest(fd) else { return }
        lock.lock()
        let n = (counts[path] ?? 0) + 1
        counts[path] = n
        rangeHeaders[path, default: []].append(headers["range"])
        let route = routes[path]
        lock.unlock()
        guard let route else {
            respond(fd, status: 404, reason: "Not Found", body: Data("not found\n".utf8))
            return
        }
        switch route.behaviour {
        case let .status(code):
            respond(fd, status: code, reason: "Error", body: Data("error \(code)\n".utf8))
            return
        case let .failFirst(times, code) where n <= times:
            respond(fd, status: code, reason: "Error", body: Data("error \(code)\n".utf8))
            return
        case let .claimLength(length):
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: \(length)\r\n\r\n"
            send(fd, Data(head.utf8) + route.body)
            return
        case .closeMidBodyOnce where n == 1:
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: \(route.body.count)\r\nAccept-Ranges: bytes\r\n\r\n"
            send(fd, Data(head.utf8) + route.body.prefix(route.body.count / 2))
            return
        default:
            break
        }
        // Serve, honouring "Range: bytes=N-".
        if let range = headers["range"], range.hasPrefix("bytes="), let dash = range.firstIndex(of: "-"),
           let start = Int(range[range.index(range.startIndex, offsetBy: 6)..<dash]) {
            if start >= route.body.count {
                respond(fd, status: 416, reason: "Range Not Satisfiable", headers: ["Content-Range: bytes */\(route.body.count)"], body: Data())
                return
            }
            let part = route.body.subdata(in: start..<route.body.count)
            respond(fd, status: 206, reason: "Partial Content",
                    headers: ["Content-Range: bytes \(start)-\(route.body.count - 1)/\(route.body.count)", "Accept-Ranges: bytes"], body: part)
            return
        }
        respond(fd, status: 200, reason: "OK", headers: ["Accept-Ranges: bytes"], body: route.body)
    }
}
