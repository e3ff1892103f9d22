// Safe archive extraction over libarchive (zip, tar, tar.gz, ...): refuses absolute paths,
// `..` components and links that point outside the target; caps total uncompressed bytes
// and entry count (bomb guard); extracts into a temporary folder beside the target and
// renames it into place only on success, so a failure leaves the previous good copy.
import CArchive
import Foundation

public enum ExtractionError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(archive: String, reason: String)
    case unsafePath(archive: String, entry: String, reason: String)
    case tooLarge(archive: String, limitBytes: Int64)
    case tooManyEntries(archive: String, limit: Int)
    case corrupt(archive: String, reason: String)
    case io(String)

    public var description: String {
        switch self {
        case let .cannotOpen(a, r): return "cannot open archive \(a): \(r)"
        case let .unsafePath(a, e, r): return "refusing archive \(a): entry \"\(e)\" \(r); nothing was extracted"
        case let .tooLarge(a, limit):
            return "refusing archive \(a): it unpacks to more than \(limit) bytes (the limit; possible zip bomb); nothing was extracted"
        case let .tooManyEntries(a, limit): return "refusing archive \(a): more than \(limit) entries; nothing was extracted"
        case let .corrupt(a, r): return "archive \(a) is damaged: \(r)"
        case let .io(m): return "extraction failed: \(m)"
        }
    }
}

public struct ExtractionLimits: Sendable {
    public var maxTotalBytes: Int64 = 1 << 30
    public var maxEntries = 200_000
    public init(maxTotalBytes: Int64 = 1 << 30, maxEntries: Int = 200_000) {
        self.maxTotalBytes = maxTotalBytes
        self.maxEntries = maxEntries
    }
}

public struct ExtractionReport: Sendable {
    public let files: Int
    public let bytes: Int64
}

public struct ArchiveExtractor: Sendable {
    public var limits: ExtractionLimits
    public init(limits: ExtractionLimits = ExtractionLimits()) { self.limits = limits }

    /// Extracts `archive` so that `destination` ends up holding exactly its contents.
    /// The previous `destination` (if any) is replaced only after a complete extraction.
    @discardableResult
    public func extract(_ archive: URL, into destination: URL) throws -> ExtractionReport {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).extract-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        do {
            let report = try extractEntries(archive, into: staging)
            try replace(destination, with: staging)
            return report
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
    }

    /// Swaps `staging` into `destination`, keeping the old copy until the rename succeeded.
    private func replace(_ destination: URL, with staging: URL) throws {
        let fm = FileManager.default
        var backup: URL? = nil
        if fm.fileExists(atPath: destination.path) {
            let b = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).old-\(getpid())")
            try? fm.removeItem(at: b)
            guard rename(destination.path, b.path) == 0 else {
                throw ExtractionError.io("cannot move aside \(destination.path): \(String(cString: strerror(errno)))")
            }
            backup = b
        }
        guard rename(staging.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if let backup { _ = rename(backup.path, destination.path) }
            throw ExtractionError.io("cannot move \(staging.path) to \(destination.path): \(reason)")
        }
        if let backup { try? fm.removeItem(at: backup) }
    }

    static func errorText(_ a: OpaquePointer?) -> String {
        guard let c = archive_error_string(a) else { return "unknown libarchive error" }
        return String(cString: c)
    }

    /// Checks an entry path and returns its normalised components.
    static func safeComponents(_ path: String) -> (components: [String], problem: String?) {
        if path.hasPrefix("/") || path.hasPrefix("\\") { return ([], "has an absolute path") }
        if path.count >= 2, path.dropFirst().first == ":" { return ([], "has a drive-letter path") }
        var parts = [String]()
        for raw in path.split(whereSeparator: { $0 == "/" || $0 == "\\" }) {
            let p = String(raw)
            if p == "." || p.isEmpty { continue }
            if p == ".." { return ([], "escapes the target with '..'") }
            if p.contains("\0") { return ([], "has a NUL byte in its name") }
            parts.append(p)
        }
        return (parts, nil)
    }

    /// True when a link at `components` with `target` stays inside the extraction root.
    static func linkStaysInside(components: [String], target: String) -> Bool {
        if target.hasPrefix("/") { return false }
        var stack = Array(components.dropLast())
        for raw in target.split(separator: "/") {
            let p = String(raw)
            if p == "." || p.isEmpty { continue }
            if p == ".." {
                if stack.isEmpty { return false }
                stack.removeLast()
            } else {
                stack.append(p)
            }
        }
        return true
    }

    private func extractEntries(_ archiveURL: URL, into root: URL) throws -> ExtractionReport {
        let name = archiveURL.lastPathComponent
        guard let a = archive_read_new() else { throw ExtractionError.io("archive_read_new failed") }
        defer { archive_read_free(a) }
        archive_read_support_format_all(a)
        archive_read_support_filter_all(a)
        guard archive_read_open_filename(a, archiveURL.path, 1 << 16) == ARCHIVE_OK else {
            throw ExtractionError.cannotOpen(archive: archiveURL.path, reason: Self.errorText(a))
        }
        var entries = 0
        var files = 0
        var total: Int64 = 0
        var entry: OpaquePointer? = nil
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        // Links are created after all regular entries so their targets can be checked as paths only.
        var links: [(path: URL, target: String)] = []
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            if r != ARCHIVE_OK && r != ARCHIVE_WARN {
                throw ExtractionError.corrupt(archive: name, reason: Self.errorText(a))
            }
            entries += 1
            if entries > limits.maxEntries { throw ExtractionError.tooManyEntries(archive: name, limit: limits.maxEntries) }
            let rawPath: String = {
                if let p = archive_entry_pathname_utf8(entry) { return String(cString: p) }
                if let p = archive_entry_pathname(entry) { return String(cString: p) }
                return ""
            }()
            let (components, problem) = Self.safeComponents(rawPath)
            if let problem { throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: problem) }
            if components.isEmpty { continue }
            let target = components.reduce(root) { $0.appendingPathComponent($1) }
            let type = archive_entry_filetype(entry)
            if let hardlink = archive_entry_hardlink(entry) {
                let linkTarget = String(cString: hardlink)
                let (linkComponents, linkProblem) = Self.safeComponents(linkTarget)
                if linkProblem != nil || linkComponents.isEmpty {
                    throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: "is a hard link to \"\(linkTarget)\" outside the target")
                }
                links.append((target, "hard:" + linkComponents.joined(separator: "/")))
                continue
            }
            switch type {
            case 0o040000:
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            case 0o120000:
                let linkTarget = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                guard Self.linkStaysInside(components: components, target: linkTarget) else {
                    throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: "is a symbolic link to \"\(linkTarget)\" outside the target")
                }
                links.append((target, "sym:" + linkTarget))
            case 0o100000:
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                // No symlink exists yet (links come last), so this cannot write outside the root.
                guard let out = fopen(target.path, "wb") else {
                    throw ExtractionError.io("cannot create \(target.path): \(String(cString: strerror(errno)))")
                }
                var failure: Error? = nil
                while true {
                    let n = archive_read_data(a, buffer, 1 << 16)
                    if n == 0 { break }
                    if n < 0 {
                        failure = ExtractionError.corrupt(archive: name, reason: "\(rawPath): \(Self.errorText(a))")
                        break
                    }
                    total += Int64(n)
                    if total > limits.maxTotalBytes {
                        failure = ExtractionError.tooLarge(archive: name, limitBytes: limits.maxTotalBytes)
                        break
                    }
                    if fwrite(buffer, 1, n, out) != n {
                        failure = ExtractionError.io("cannot write \(target.path): disk full or not writable")
                        break
                    }
                }
                fclose(out)
                if let failure { throw failure }
                files += 1
            default:
                // Devices, FIFOs, sockets: never needed for ARC data.
                throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: "is a special file (type \(type))")
            }
        }
        for link in links {
            try FileManager.default.createDirectory(at: link.path.deletingLastPathComponent(), withIntermediateDirectories: true)
            if link.target.hasPrefix("sym:") {
                try FileManager.default.createSymbolicLink(atPath: link.path.path, withDestinationPath: String(link.target.dropFirst(4)))
            } else {
                let source = root.appendingPathComponent(String(link.target.dropFirst(5)))
                try FileManager.default.copyItem(at: source, to: link.path)
            }
        }
        return ExtractionReport(files: files, bytes: total)
    }
}
