// The fetch stage: resolve where a source comes from (real URL, mirror, Kaggle zip or
// folder), download and verify it, unpack it safely, normalise it to
// `arc-data/<source>/...`, validate every task, write `manifest.json`, and swap the new
// copy into place only when all of that succeeded, and only over a copy fetch made.
// A mirror archive must be verified: by the mirror's SHA256SUMS or a pinned digest; only
// `insecure` (--insecure) installs one whose digest is unknown, with a warning.
import ARCCore
import Foundation

public struct FetchPlan: Sendable {
    public let source: DataSource
    /// Archive URL (http, https or file). Nil when `localDirectory` is used instead.
    public let url: URL?
    /// A Kaggle-layout folder to copy instead of an archive.
    public let localDirectory: URL?
    public let expectedSHA256: String?
    /// Set when the archive is accepted without a known digest (`--insecure`): why it cannot be checked.
    public var unverifiedReason: String? = nil

    public var location: String { url?.absoluteString ?? localDirectory?.absoluteString ?? "" }
}

public enum FetchError: Error, CustomStringConvertible {
    case unknownSource(String)
    case noLocation(String)
    case badLayout(source: String, reason: String)
    /// A `--mirror`/`ARC_MIRROR`/`--kaggle-source` value that is no usable folder or URL.
    case badLocation(option: String, value: String, reason: String)
    /// A mirror archive without a known digest, and neither `--sha256` nor `--insecure`.
    case unverifiable(archive: String, mirror: String, reason: String)
    /// A SHA256SUMS file that is there but unusable.
    case badChecksumFile(location: String, reason: String)
    case fileSystem(String)

    public var description: String {
        switch self {
        case let .unknownSource(s):
            return "unknown source '\(s)' (known: \(DataSource.all.map(\.name).joined(separator: ", ")))"
        case let .noLocation(m): return m
        case let .badLayout(source, reason): return "\(source): unexpected archive layout: \(reason)"
        case let .badLocation(option, value, reason): return "\(option) '\(value)': \(reason)"
        case let .unverifiable(archive, mirror, reason):
            return "refusing \(archive) from the mirror \(mirror): \(reason), so the download cannot be checked against a known "
                + "SHA-256 digest; pin its digest with --sha256 <64 hex digits> (one source at a time), "
                + "or accept it unverified with --insecure"
        case let .badChecksumFile(location, reason): return "\(location): \(reason); nothing was fetched"
        case let .fileSystem(m): return m
        }
    }
}

public enum FetchOutcome: Sendable {
    case upToDate(FetchManifest)
    case installed(FetchManifest)

    public var manifest: FetchManifest {
        switch self { case let .upToDate(m), let .installed(m): return m }
    }
}

public final class Fetcher: @unchecked Sendable {
    public let dataDirectory: URL
    public var downloader: Downloader
    public var extractor: ArchiveExtractor
    public var force = false
    public var log: (String) -> Void
    private var checksumCache: [String: (sums: [String: String], missing: String?)] = [:]

    public init(dataDirectory: URL, downloader: Downloader = Downloader(), extractor: ArchiveExtractor = ArchiveExtractor(),
                log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.dataDirectory = dataDirectory
        self.downloader = downloader
        self.extractor = extractor
        self.log = log
    }

    /// Decides where `source` comes from.
    /// - mirror: a base URL or folder holding the archives under their mirror names and a
    ///   SHA256SUMS listing their digests; `mirrorOption` names where it came from, for errors.
    /// - kaggleSource: for `kaggle`, the competition zip (path or URL) or an unpacked folder.
    /// - pinnedSHA256: the archive's digest, checked instead of the mirror's SHA256SUMS.
    /// - insecure: accept a mirror archive whose digest is unknown (never one that mismatches).
    /// A mirror archive with no known digest is refused unless pinned or `insecure`.
    public func plan(_ source: DataSource, mirror: String?, kaggleSource: String?, pinnedSHA256: String?,
                     insecure: Bool = false, mirrorOption: String = "--mirror") throws -> FetchPlan {
        if let pinned = pinnedSHA256, !Self.isSHA256Hex(pinned) {
            throw FetchError.badLocation(option: "--sha256", value: pinned, reason: "needs 64 hex digits (0-9, a-f)")
        }
        let pinned = pinnedSHA256?.lowercased()
        if source == .kaggle, let k = kaggleSource {
            if let url = try Self.parseURL(k, option: "--kaggle-source") {
                return FetchPlan(source: source, url: url, localDirectory: nil, expectedSHA256: pinned)
            }
            var isDir: ObjCBool = false
            let u = URL(fileURLWithPath: k).standardizedFileURL
            guard FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir) else {
                throw FetchError.noLocation("kaggle: \(u.path) does not exist (give the competition zip or its unpacked folder)")
            }
            if isDir.boolValue { return FetchPlan(source: source, url: nil, localDirectory: u, expectedSHA256: nil) }
            return FetchPlan(source: source, url: u, localDirectory: nil, expectedSHA256: pinned)
        }
        if let mirror {
            let base = try Self.baseURL(mirror, option: mirrorOption)
            let url = base.appendingPathComponent(source.archiveName)
            if let pinned { return FetchPlan(source: source, url: url, localDirectory: nil, expectedSHA256: pinned) }
            let (sums, missing) = try mirrorChecksums(base)
            if let digest = sums[source.archiveName] {
                return FetchPlan(source: source, url: url, localDirectory: nil, expectedSHA256: digest)
            }
            let reason = missing ?? "its SHA256SUMS has no line for \(source.archiveName)"
            guard insecure else {
                throw FetchError.unverifiable(archive: source.archiveName, mirror: Self.displayLocation(base), reason: reason)
            }
            return FetchPlan(source: source, url: url, localDirectory: nil, expectedSHA256: nil, unverifiedReason: reason)
        }
        guard let url = source.defaultURL else {
            throw FetchError.noLocation("\(source.name): no public download; give --kaggle-source ZIP|DIR (the competition download) or --mirror")
        }
        return FetchPlan(source: source, url: url, localDirectory: nil, expectedSHA256: pinned)
    }

    /// A folder as its path, a URL as itself.
    static func displayLocation(_ url: URL) -> String { url.isFileURL ? url.path : url.absoluteString }

    /// Reads `SHA256SUMS` beside the mirror's archives: the digests by file name, or no digests
    /// and why (no such file, or it could not be downloaded). A file that is there but malformed
    /// is an error: a damaged or tampered list must not be half-used.
    func mirrorChecksums(_ base: URL) throws -> (sums: [String: String], missing: String?) {
        if let cached = checksumCache[base.absoluteString] { return cached }
        let fm = FileManager.default
        let location = base.appendingPathComponent("SHA256SUMS")
        let shown = Self.displayLocation(location)
        let folder = fm.temporaryDirectory.appendingPathComponent("arc-pipeline-sums-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? fm.removeItem(at: folder) }
        var quiet = downloader
        quiet.options.quiet = true
        quiet.options.maxAttempts = min(quiet.options.maxAttempts, 2)
        quiet.options.maxBytes = Self.maxChecksumFileBytes
        let tmp = folder.appendingPathComponent("SHA256SUMS")
        let result: (sums: [String: String], missing: String?)
        do {
            try quiet.download(location, to: tmp)
        } catch DownloadError.tooLarge {
            throw FetchError.badChecksumFile(location: shown, reason: "larger than \(Self.maxChecksumFileBytes) bytes, not a checksum list")
        } catch let error as DownloadError {
            result = ([:], "it has no SHA256SUMS (\(error))")
            checksumCache[base.absoluteString] = result
            return result
        }
        let data: Data
        do { data = try Data(contentsOf: tmp) } catch {
            throw FetchError.badChecksumFile(location: shown, reason: "cannot read: \(FileSystemMessage.describe(error))")
        }
        result = (try Self.parseChecksums(data, location: shown), nil)
        checksumCache[base.absoluteString] = result
        return result
    }

    /// Refuses a data folder that is there but is no folder, before anything is downloaded.
    public func checkDataDirectory() throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dataDirectory.path, isDirectory: &isDir), !isDir.boolValue {
            throw FetchError.fileSystem("the data folder \(dataDirectory.path) is a file, not a folder (give another --data-dir)")
        }
    }

    public func sourceDirectory(_ source: DataSource) -> URL { dataDirectory.appendingPathComponent(source.name) }

    /// Fetches one source; returns `.upToDate` without downloading when the manifest shows
    /// the same location (and digest, when one is pinned). File-system failures become one
    /// line naming the path.
    public func fetch(_ plan: FetchPlan) throws -> FetchOutcome {
        do {
            return try fetchUnwrapped(plan)
        } catch {
            if error is FetchError || error is DownloadError || error is ExtractionError || error is ARCDataError { throw error }
            throw FetchError.fileSystem("\(plan.source.name): \(FileSystemMessage.describe(error))")
        }
    }

    private func fetchUnwrapped(_ plan: FetchPlan) throws -> FetchOutcome {
        let fm = FileManager.default
        try checkDataDirectory()
        let target = sourceDirectory(plan.source)
        let manifestURL = target.appendingPathComponent(FetchManifest.fileName)
        let old = try? FetchManifest.read(manifestURL)
        if !force, let old, old.url == plan.location, plan.expectedSHA256.map({ $0.lowercased() == old.sha256 }) ?? true {
            return .upToDate(old)
        }
        // Replace only what fetch made: a folder with this source's manifest.
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: target.path, isDirectory: &isDir) || (try? fm.destinationOfSymbolicLink(atPath: target.path)) != nil {
            guard isDir.boolValue, old?.source == plan.source.name, (try? fm.destinationOfSymbolicLink(atPath: target.path)) == nil else {
                throw FetchError.fileSystem("\(plan.source.name): \(target.path) is there but was not made by fetch (no \(FetchManifest.fileName) "
                    + "for \(plan.source.name)); it is left as it is: move it away or give another --data-dir")
            }
        }
        try fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let work = dataDirectory.appendingPathComponent(".work-\(plan.source.name)")
        try? fm.removeItem(at: work)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        let unpacked = work.appendingPathComponent("unpacked")
        var digest = ""
        var bytes: Int64 = 0
        if let url = plan.url {
            let downloads = dataDirectory.appendingPathComponent(".downloads")
            let archive = downloads.appendingPathComponent(plan.source.archiveName)
            try? fm.removeItem(at: archive)
            defer {
                try? fm.removeItem(at: archive)
                _ = rmdir(downloads.path)  // only when empty: partials of interrupted downloads stay for resume
            }
            let result = try downloader.download(url, to: archive, expectedSHA256: plan.expectedSHA256, label: "\(plan.source.name)")
            digest = result.sha256
            bytes = result.bytes
            log("\(plan.source.name): downloaded \(result.bytes) bytes, sha256 \(digest)\(plan.expectedSHA256 != nil ? " (verified)" : "")"
                + (result.resumedFrom > 0 ? ", resumed at byte \(result.resumedFrom)" : "")
                + (result.attempts > 1 ? ", \(result.attempts) attempts" : ""))
            if let reason = plan.unverifiedReason {
                log("WARNING: \(plan.source.archiveName) from \(url.absoluteString) is NOT VERIFIED (--insecure): \(reason); "
                    + "installing it with sha256 \(digest), which no known digest confirms")
            }
            try extractor.extract(archive, into: unpacked)
        } else if let dir = plan.localDirectory {
            // The folder may be read-only (Kaggle mounts its inputs so): the copy is this program's
            // own (owner-writable), so it can be normalised, replaced and removed later.
            try Self.copyAsOwnFiles(dir, to: unpacked, source: plan.source)
            (digest, bytes) = try Self.directoryDigest(unpacked)
        }

        let staged = work.appendingPathComponent("normalised")
        try fm.createDirectory(at: staged, withIntermediateDirectories: true)
        let splits = try normalise(plan.source, unpacked: unpacked, into: staged)
        let manifest = FetchManifest(source: plan.source.name, url: plan.location, sha256: digest, bytes: bytes,
                                     fetchedAt: ISO8601DateFormatter().string(from: Date()), splits: splits)
        try AtomicFile.write(manifest.jsonText, to: staged.appendingPathComponent(FetchManifest.fileName))
        try Self.swapIntoPlace(staged, target)
        return .installed(manifest)
    }

    /// Refuses symbolic links in the data being installed: moved out of the archive, a
    /// relative link would point somewhere else, and the installed data must be plain files.
    static func refuseLinks(in folder: URL, source: DataSource) throws {
        let fm = FileManager.default
        func isLink(_ url: URL) -> Bool { (try? fm.destinationOfSymbolicLink(atPath: url.path)) != nil }
        if isLink(folder) {
            throw FetchError.badLayout(source: source.name, reason: "\(folder.lastPathComponent) is a symbolic link; the data must be plain files and folders")
        }
        for relative in fm.enumerator(atPath: folder.path)?.allObjects as? [String] ?? [] where isLink(folder.appendingPathComponent(relative)) {
            throw FetchError.badLayout(source: source.name, reason: "\(folder.lastPathComponent)/\(relative) is a symbolic link; the data must be plain files and folders")
        }
    }

    /// Copies a folder's tree with this process's default permissions instead of the source's
    /// (which may be read-only); symbolic links are copied as links (refused by `refuseLinks`),
    /// anything that is no file, folder or link is refused.
    static func copyAsOwnFiles(_ from: URL, to target: URL, source: DataSource) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: target, withIntermediateDirectories: false)
        for name in try fm.contentsOfDirectory(atPath: from.path) {
            let item = from.appendingPathComponent(name), copy = target.appendingPathComponent(name)
            switch try fm.attributesOfItem(atPath: item.path)[.type] as? FileAttributeType {
            case .typeDirectory?:
                try copyAsOwnFiles(item, to: copy, source: source)
            case .typeSymbolicLink?:
                try fm.createSymbolicLink(atPath: copy.path, withDestinationPath: try fm.destinationOfSymbolicLink(atPath: item.path))
            case .typeRegular?:
                try fm.copyItem(at: item, to: copy)
                try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: copy.path)
            default:
                throw FetchError.badLayout(source: source.name, reason: "\(item.path) is not a file, folder or symbolic link")
            }
        }
    }

    /// Digest over a folder's regular files (sorted relative paths and contents).
    static func directoryDigest(_ dir: URL) throws -> (String, Int64) {
        var hasher = SHA256Hasher()
        var total: Int64 = 0
        let files = (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? []).sorted()
        for rel in files {
            let u = dir.appendingPathComponent(rel)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir), !isDir.boolValue else { continue }
            let data = try Data(contentsOf: u)
            hasher.update(Data(rel.utf8))
            hasher.update(data)
            total += Int64(data.count)
        }
        return (hasher.finalizeHex(), total)
    }

    /// The archive's single top folder, or the root when it has several entries.
    static func contentRoot(_ unpacked: URL) throws -> URL {
        let items = try FileManager.default.contentsOfDirectory(atPath: unpacked.path).filter { !$0.hasPrefix(".") && $0 != "__MACOSX" }
        if items.count == 1 {
            let only = unpacked.appendingPathComponent(items[0])
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: only.path, isDirectory: &isDir), isDir.boolValue { return only }
        }
        return unpacked
    }

    /// Moves the source's data into `staged` in the normalised layout and validates every task.
    func normalise(_ source: DataSource, unpacked: URL, into staged: URL) throws -> [FetchManifest.SplitCount] {
        let fm = FileManager.default
        let root = try Self.contentRoot(unpacked)
        var counts = [FetchManifest.SplitCount]()
        switch source.layout {
        case let .splits(splits):
            for (name, path) in splits {
                let from = root.appendingPathComponent(path)
                guard fm.fileExists(atPath: from.path) else {
                    throw FetchError.badLayout(source: source.name, reason: "no \(path)/ in the archive")
                }
                let to = staged.appendingPathComponent(name)
                try fm.moveItem(at: from, to: to)
                try Self.refuseLinks(in: to, source: source)
                let set = try TaskLoader.loadDirectory(to, name: "\(source.name):\(name)")
                counts.append(.init(name: name, tasks: set.tasks.count, testInputs: set.testInputCount,
                                    withSolutions: set.tasks.allSatisfy(\.hasSolutions)))
            }
        case let .tree(path, split):
            let from = root.appendingPathComponent(path)
            guard fm.fileExists(atPath: from.path) else {
                throw FetchError.badLayout(source: source.name, reason: "no \(path)/ in the archive")
            }
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: from.path, isDirectory: &isDir), isDir.boolValue else {
                throw FetchError.badLayout(source: source.name, reason: "\(path) in the archive is not a folder")
            }
            for item in try fm.contentsOfDirectory(atPath: from.path) where !item.hasPrefix(".") {
                try fm.moveItem(at: from.appendingPathComponent(item), to: staged.appendingPathComponent(item))
            }
            try Self.refuseLinks(in: staged, source: source)
            let set = try TaskLoader.loadDirectory(staged, name: source.name)
            counts.append(.init(name: split, tasks: set.tasks.count, testInputs: set.testInputCount,
                                withSolutions: set.tasks.allSatisfy(\.hasSolutions)))
        case .kaggle:
            guard let dir = Self.findKaggleFolder(root, depth: 3) else {
                throw FetchError.badLayout(source: source.name, reason: "no arc-agi_*_challenges.json found")
            }
            for item in try fm.contentsOfDirectory(atPath: dir.path) where item.hasSuffix(".json") {
                try fm.moveItem(at: dir.appendingPathComponent(item), to: staged.appendingPathComponent(item))
            }
            try Self.refuseLinks(in: staged, source: source)
            for split in ["training", "evaluation", "test"] where TaskLoader.kaggleFile(in: staged, split: split, kind: "challenges") != nil {
                let set = try TaskLoader.loadKaggle(directory: staged, split: split)
                counts.append(.init(name: split, tasks: set.tasks.count, testInputs: set.testInputCount,
                                    withSolutions: set.tasks.allSatisfy(\.hasSolutions)))
            }
        }
        return counts
    }

    static func findKaggleFolder(_ dir: URL, depth: Int) -> URL? {
        let fm = FileManager.default
        guard let items = try? fm.contentsOfDirectory(atPath: dir.path) else { return nil }
        if items.contains(where: { $0.hasPrefix("arc-agi_") && ($0.hasSuffix("_challenges.json") || $0.hasSuffix("-challenges.json")) }) {
            return dir
        }
        guard depth > 0 else { return nil }
        for item in items.sorted() where !item.hasPrefix(".") && item != "__MACOSX" {
            let sub = dir.appendingPathComponent(item)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: sub.path, isDirectory: &isDir), isDir.boolValue, let found = findKaggleFolder(sub, depth: depth - 1) {
                return found
            }
        }
        return nil
    }

    /// Replaces `target` with `staged`, keeping the previous copy until the rename succeeded.
    static func swapIntoPlace(_ staged: URL, _ target: URL) throws {
        let fm = FileManager.default
        let backup = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let hadOld = fm.fileExists(atPath: target.path)
        if hadOld { try fm.moveItem(at: target, to: backup) }
        do { try fm.moveItem(at: staged, to: target) } catch {
            if hadOld { try? fm.moveItem(at: backup, to: target) }
            throw error
        }
        if hadOld { try? fm.removeItem(at: backup) }
    }
}
