// Downloads over libcurl (http, https, file): redirects, timeouts, retries with backoff on
// transient failures, resume into a `.partial` file with a Range request, SHA-256 check,
// and rename into place only when complete and verified.
import ARCCore
import CCurl
import Foundation

public enum DownloadError: Error, CustomStringConvertible, Equatable {
    /// A 4xx (or other non-retryable) HTTP status.
    case httpStatus(Int, url: String)
    /// Transfer failures that persisted through every retry.
    case transferFailed(String, url: String, attempts: Int)
    case checksumMismatch(expected: String, actual: String, url: String)
    /// The body went past `DownloadOptions.maxBytes`.
    case tooLarge(url: String, limitBytes: Int64)
    case io(String)

    public var description: String {
        switch self {
        case let .httpStatus(code, url): return "download failed: HTTP \(code) for \(url)"
        case let .transferFailed(reason, url, attempts): return "download failed after \(attempts) attempt(s): \(reason) (\(url))"
        case let .checksumMismatch(expected, actual, url):
            return "checksum mismatch for \(url): expected sha256 \(expected), got \(actual); nothing was installed"
        case let .tooLarge(url, limit): return "download refused: \(url) is larger than \(limit) bytes, the limit for this file"
        case let .io(message): return "download failed: \(message)"
        }
    }
}

public struct DownloadOptions: Sendable {
    public var maxAttempts = 5
    /// First backoff delay; doubles after each failed attempt.
    public var initialBackoff: TimeInterval = 1.0
    public var connectTimeout = 30
    /// Abort an attempt when slower than `lowSpeedLimit` bytes/s for `lowSpeedTime` seconds.
    public var lowSpeedLimit = 1024
    public var lowSpeedTime = 60
    public var quiet = false
    /// Longest wait between attempts, however many retries.
    public var maxBackoff: TimeInterval = 60
    /// Refuse a body larger than this many bytes (nil: no limit).
    public var maxBytes: Int64? = nil
    public init() {}
}

public struct DownloadResult: Sendable {
    public let file: URL
    public let sha256: String
    public let bytes: Int64
    public let attempts: Int
    public let resumedFrom: Int64
}

private let curlGlobalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

/// State shared with libcurl's C callbacks for one attempt.
private final class TransferContext {
    let file: UnsafeMutablePointer<FILE>
    let progress: ProgressReporter
    let offset: Int64
    let maxBytes: Int64?
    var written: Int64 = 0
    var writeFailed = false
    var tooLarge = false
    init(file: UnsafeMutablePointer<FILE>, progress: ProgressReporter, offset: Int64, maxBytes: Int64?) {
        self.file = file
        self.progress = progress
        self.offset = offset
        self.maxBytes = maxBytes
    }
}

public struct Downloader: Sendable {
    public var options: DownloadOptions
    public init(options: DownloadOptions = DownloadOptions()) { self.options = options }

    /// Downloads `url` to `destination`. A `<destination>.partial` left by an interrupted
    /// run is resumed. When `expectedSHA256` is given the file is verified before the rename.
    @discardableResult
    public func download(_ url: URL, to destination: URL, expectedSHA256: String? = nil, label: String? = nil) throws -> DownloadResult {
        _ = curlGlobalInit
        let fm = FileManager.default
        try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        let partial = URL(fileURLWithPath: destination.path + ".partial")
        let progress = ProgressReporter(label: label ?? "download \(url.lastPathComponent)", quiet: options.quiet)
        var attempt = 0
        var lastError = ""
        var backoff = min(options.initialBackoff, options.maxBackoff)
        var firstResume: Int64 = -1
        while attempt < options.maxAttempts {
            attempt += 1
            let existing = (try? fm.attributesOfItem(atPath: partial.path)[.size] as? Int64) ?? 0
            if firstResume < 0 { firstResume = existing }
            let outcome = transfer(url, into: partial, resumeFrom: existing, progress: progress)
            switch outcome {
            case .complete:
                progress.finish()
                let digest = try SHA256Hasher.hexDigest(ofFile: partial)
                if let expected = expectedSHA256?.lowercased(), expected != digest {
                    try? fm.removeItem(at: partial)
                    throw DownloadError.checksumMismatch(expected: expected, actual: digest, url: url.absoluteString)
                }
                let size = (try fm.attributesOfItem(atPath: partial.path)[.size] as? Int64) ?? 0
                if rename(partial.path, destination.path) != 0 {
                    throw DownloadError.io("cannot move \(partial.path) to \(destination.path): \(String(cString: strerror(errno)))")
                }
                return DownloadResult(file: destination, sha256: digest, bytes: size, attempts: attempt, resumedFrom: max(firstResume, 0))
            case let .fatal(error):
                progress.finish()
                try? fm.removeItem(at: partial)
                throw error
            case let .restart(reason):
                // The server cannot resume this file: start over without counting a backoff.
                try? fm.removeItem(at: partial)
                lastError = reason
            case let .retry(reason):
                lastError = reason
                if attempt < options.maxAttempts {
                    progress.finish()
                    if !options.quiet {
                        FileHandle.standardError.write(Data("warning: \(reason); retrying in \(String(format: "%.1f", backoff)) s (attempt \(attempt + 1) of \(options.maxAttempts))\n".utf8))
                    }
                    Thread.sleep(forTimeInterval: backoff)
                    backoff = min(backoff * 2, options.maxBackoff)
                }
            }
        }
        progress.finish()
        throw DownloadError.transferFailed(lastError, url: url.absoluteString, attempts: attempt)
    }

    private enum Outcome {
        case complete
        case retry(String)
        case restart(String)
        case fatal(DownloadError)
    }

    private func transfer(_ url: URL, into partial: URL, resumeFrom offset: Int64, progress: ProgressReporter) -> Outcome {
        guard let handle = curl_easy_init() else { return .fatal(.io("curl_easy_init failed")) }
        defer { curl_easy_cleanup(handle) }
        guard let file = fopen(partial.path, offset > 0 ? "ab" : "wb") else {
            return .fatal(.io("cannot open \(partial.path): \(String(cString: strerror(errno)))"))
        }
        let context = TransferContext(file: file, progress: progress, offset: offset, maxBytes: options.maxBytes)
        let unmanaged = Unmanaged.passRetained(context)
        defer { unmanaged.release() }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code: CURLcode = url.absoluteString.withCString { urlString in
            errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
                _ = arc_curl_setopt_ptr(handle, CURLOPT_URL, urlString)
                _ = arc_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
                _ = arc_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
                _ = arc_curl_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
                _ = arc_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, options.connectTimeout)
                _ = arc_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedLimit)
                _ = arc_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, options.lowSpeedTime)
                _ = arc_curl_setopt_long(handle, CURLOPT_FAILONERROR, 1)
                _ = arc_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = arc_curl_setopt_ptr(handle, CURLOPT_USERAGENT, "arc-pipeline/0.1")
                if offset > 0 { _ = arc_curl_setopt_off(handle, CURLOPT_RESUME_FROM_LARGE, curl_off_t(offset)) }
                _ = arc_curl_setopt_write(handle) { data, size, count, user in
                    let ctx = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
                    let n = size * count
                    if let limit = ctx.maxBytes {
                        let (sofar, overflow1) = ctx.offset.addingReportingOverflow(ctx.written)
                        let (end, overflow2) = sofar.addingReportingOverflow(Int64(clamping: n))
                        if overflow1 || overflow2 || end > limit {
                            ctx.tooLarge = true
                            return 0
                        }
                    }
                    let written = fwrite(data, 1, n, ctx.file)
                    if written != n { ctx.writeFailed = true }
                    ctx.written += Int64(written)
                    return written
                }
                _ = arc_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, unmanaged.toOpaque())
                _ = arc_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
                _ = arc_curl_setopt_xfer(handle) { user, dltotal, dlnow, _, _ in
                    let ctx = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
                    // A server's Content-Length can be anything up to Int64.max: saturate, never trap.
                    let done = ctx.offset.addingReportingOverflow(Int64(dlnow))
                    let total = ctx.offset.addingReportingOverflow(Int64(dltotal))
                    ctx.progress.update(done: done.overflow ? Int64.max : done.partialValue,
                                        total: dltotal <= 0 ? 0 : (total.overflow ? Int64.max : total.partialValue))
                    return 0
                }
                _ = arc_curl_setopt_ptr(handle, CURLOPT_XFERINFODATA, unmanaged.toOpaque())
                return curl_easy_perform(handle)
            }
        }
        let closeFailed = fclose(file) != 0
        var status = 0
        _ = arc_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        let message: String = {
            let s = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return s.isEmpty ? String(cString: curl_easy_strerror(code)) : s
        }()
        if context.tooLarge, let limit = options.maxBytes {
            return .fatal(.tooLarge(url: url.absoluteString, limitBytes: limit))
        }
        if context.writeFailed || closeFailed { return .fatal(.io("cannot write \(partial.path): disk full or not writable")) }
        switch code {
        case CURLE_OK:
            return .complete
        case CURLE_HTTP_RETURNED_ERROR:
            if status == 416 && offset > 0 { return .restart("server refused the resume range (HTTP 416)") }
            if status == 408 || status == 429 || status >= 500 { return .retry("HTTP \(status)") }
            return .fatal(.httpStatus(status, url: url.absoluteString))
        case CURLE_RANGE_ERROR, CURLE_BAD_DOWNLOAD_RESUME:
            return .restart("server cannot resume: \(message)")
        case CURLE_FILE_COULDNT_READ_FILE, CURLE_REMOTE_FILE_NOT_FOUND:
            return .fatal(.io("\(message) (\(url.absoluteString))"))
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return .fatal(.io("\(message) (\(url.absoluteString))"))
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .retry("cannot resolve host: \(message)")
        default:
            // Connection reset, partial file, timeouts, empty reply, SSL hiccups: transient.
            return .retry(message)
        }
    }
}
