// Safe archive extraction over libarchive (zip, tar, tar.gz, ...). libarchive only reads; the
// members are written here with checks equivalent to archive_write_disk's secure flags
// (ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS, _SECURE_NODOTDOT, _SECURE_SYMLINKS) and stricter:
// absolute paths and `..` components are refused; hard links, devices and FIFOs are refused
// (ARC archives need none); no member may lie below a symbolic link of the archive; files are
// created with O_EXCL | O_NOFOLLOW in folders checked on disk to be real folders; symbolic links
// are created last and only when their target stays inside without passing through another
// link. Total uncompressed bytes and the entry count are capped (bomb guard). Extraction goes
// into a temporary folder beside the target, renamed into place only on success, so a failure
// leaves the previous good copy.
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
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).extract-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw ExtractionError.io("cannot create the staging folder \(staging.path): \(FileSystemMessage.describe(error))")
        }
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

    /// Why a symbolic link at `components` with `target` is unsafe, or nil when it is safe: the
    /// target must be relative, non-empty, stay inside the extraction root when resolved from the
    /// link's folder, and pass through no other link of the archive (`links`, joined paths), whose
    /// own target would make the lexical walk wrong.
    static func linkProblem(components: [String], target: String, links: Set<String>) -> String? {
        if target.isEmpty { return "is a symbolic link with an empty target" }
        if target.hasPrefix("/") { return "is a symbolic link to the absolute path \"\(target)\" outside the target" }
        var stack = Array(components.dropLast())
        let parts = target.split(separator: "/").map(String.init)
        for (i, p) in parts.enumerated() {
            if p == "." || p.isEmpty { continue }
            if p == ".." {
                if stack.isEmpty { return "is a symbolic link to \"\(target)\" outside the target" }
                stack.removeLast()
                continue
            }
            stack.append(p)
            let isLast = parts[(i + 1)...].allSatisfy { $0 == "." || $0.isEmpty }
            if !isLast, links.contains(stack.joined(separator: "/")) {
                return "is a symbolic link to \"\(target)\" through the symbolic link \(stack.joined(separator: "/"))"
            }
        }
        return nil
    }

    /// The first proper prefix of `components` that is one of `links`, if any.
    static func linkAbove(_ components: [String], links: Set<String>) -> String? {
        guard !links.isEmpty, components.count > 1 else { return nil }
        var prefix = ""
        for c in components.dropLast() {
            prefix = prefix.isEmpty ? c : prefix + "/" + c
            if links.contains(prefix) { return prefix }
        }
        return nil
    }

    /// What one extraction has put into the staging folder so far (paths relative to it).
    private struct StagingState {
        let root: URL
        let archive: String
        /// Folders made (or found to be real folders, never links) in the staging folder.
        var folders: Set<String> = []
        var files: Set<String> = []
        /// Symbolic links to create once every other member is on disk.
        var links: [(components: [String], target: String, entry: String)] = []
        var linkPaths: Set<String> = []

        func path(_ components: some Collection<String>) -> String {
            components.reduce(root.path) { $0 + "/" + $1 }
        }

        /// Makes every folder of `components` (all of them), each checked on disk to be a real
        /// folder and not a link or a file.
        mutating func makeFolders(_ components: some Collection<String>, entry: String) throws {
            var key = ""
            for c in components {
                key = key.isEmpty ? c : key + "/" + c
                if folders.contains(key) { continue }
                if files.contains(key) {
                    throw ExtractionError.unsafePath(archive: archive, entry: entry, reason: "needs the folder \(key), but the archive has a file of that name")
                }
                let full = path(key.split(separator: "/").map(String.init))
                if mkdir(full, 0o755) != 0 {
                    let code = errno
                    var info = stat()
                    guard code == EEXIST, lstat(full, &info) == 0 else {
                        throw ExtractionError.io("cannot create the folder \(full) for entry \"\(entry)\": \(String(cString: strerror(code)))")
                    }
                    guard info.st_mode & S_IFMT == S_IFDIR else {
                        throw ExtractionError.unsafePath(archive: archive, entry: entry, reason: "needs the folder \(key), but something else is there")
                    }
                }
                folders.insert(key)
            }
        }

        /// Checks on disk (lstat, not following links) that every folder of `components` is a real folder.
        func verifyRealFolders(_ components: some Collection<String>, entry: String) throws {
            var prefix = [String]()
            for c in components {
                prefix.append(c)
                var info = stat()
                guard lstat(path(prefix), &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                    throw ExtractionError.unsafePath(archive: archive, entry: entry,
                                                     reason: "lies below \(prefix.joined(separator: "/")), which is not a real folder on disk")
                }
            }
        }

        /// Refuses a member whose path was already used by another member.
        func checkNew(_ key: String, entry: String) throws {
            if files.contains(key) || folders.contains(key) || linkPaths.contains(key) {
                throw ExtractionError.unsafePath(archive: archive, entry: entry, reason: "appears twice in the archive (or as both a file and a folder)")
            }
        }
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
        let bufferSize = 1 << 16
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var state = StagingState(root: root, archive: name)
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
            let key = components.joined(separator: "/")
            // Nothing is written below a link: a link to a folder would carry the member elsewhere.
            if let link = Self.linkAbove(components, links: state.linkPaths) {
                throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: "goes through the symbolic link \(link) (members may not lie below a link)")
            }
            // ARC archives need no hard links; a hard link copies or exposes whatever it names.
            if let hardlink = archive_entry_hardlink(entry) {
                throw ExtractionError.unsafePath(archive: name, entry: rawPath,
                                                 reason: "is a hard link to \"\(String(cString: hardlink))\" (hard links are refused)")
            }
            let type = archive_entry_filetype(entry)
            switch type {
            case 0o040000:
                if state.files.contains(key) || state.linkPaths.contains(key) { try state.checkNew(key, entry: rawPath) }
                try state.makeFolders(components, entry: rawPath)
            case 0o120000:
                try state.checkNew(key, entry: rawPath)
                let linkTarget = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                if let problem = Self.linkProblem(components: components, target: linkTarget, links: state.linkPaths) {
                    throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: problem)
                }
                state.links.append((components, linkTarget, rawPath))
                state.linkPaths.insert(key)
            case 0o100000:
                try state.checkNew(key, entry: rawPath)
                try state.makeFolders(components.dropLast(), entry: rawPath)
                // O_EXCL | O_NOFOLLOW: never replaces or writes through anything already there.
                let fd = open(state.path(components), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    let code = errno
                    if code == EEXIST || code == ELOOP {
                        throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: "appears twice in the archive (or as both a file and a folder)")
                    }
                    throw ExtractionError.io("cannot create \(state.path(components)) for entry \"\(rawPath)\": \(String(cString: strerror(code)))")
                }
                state.files.insert(key)
                var failure: Error? = nil
                reading: while true {
                    let n = archive_read_data(a, buffer, bufferSize)
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
                    var written = 0
                    while written < n {
                        let w = write(fd, buffer + written, n - written)
                        if w < 0 && errno == EINTR { continue }
                        if w <= 0 {
                            failure = ExtractionError.io("cannot write \(state.path(components)): \(String(cString: strerror(errno)))")
                            break reading
                        }
                        written += w
                    }
                }
                if close(fd) != 0, failure == nil {
                    failure = ExtractionError.io("cannot write \(state.path(components)): \(String(cString: strerror(errno)))")
                }
                if let failure { throw failure }
                files += 1
            default:
                // Devices, FIFOs, sockets: never needed for ARC data.
                throw ExtractionError.unsafePath(archive: name, entry: rawPath, reason: "is a special file (type \(type))")
            }
        }
        // Links last, once the whole archive is known: no member below any link, no link target
        // through another link, every folder above a link a real folder on disk.
        for link in state.links {
            let key = link.components.joined(separator: "/")
            if let above = Self.linkAbove(link.components, links: state.linkPaths) {
                throw ExtractionError.unsafePath(archive: name, entry: link.entry, reason: "goes through the symbolic link \(above) (members may not lie below a link)")
            }
            if state.folders.contains(key) || state.files.contains(key) {
                throw ExtractionError.unsafePath(archive: name, entry: link.entry, reason: "appears twice in the archive (as a link and as a file or folder)")
            }
            if let problem = Self.linkProblem(components: link.components, target: link.target, links: state.linkPaths) {
                throw ExtractionError.unsafePath(archive: name, entry: link.entry, reason: problem)
            }
            try state.makeFolders(link.components.dropLast(), entry: link.entry)
            try state.verifyRealFolders(link.components.dropLast(), entry: link.entry)
            let full = state.path(link.components)
            if symlink(link.target, full) != 0 {
                let code = errno
                if code == EEXIST {
                    throw ExtractionError.unsafePath(archive: name, entry: link.entry, reason: "appears twice in the archive")
                }
                throw ExtractionError.io("cannot create the link \(full) for entry \"\(link.entry)\": \(String(cString: strerror(code)))")
            }
        }
        return ExtractionReport(files: files, bytes: total)
    }
}
