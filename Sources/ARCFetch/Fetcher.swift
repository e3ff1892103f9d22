// The fetch stage: resolve where a source comes from (real URL, mirror, Kaggle zip or
// folder), download and verify it, unpack it safely, normalise it to
// `arc-data/<source>/...`, validate every task, write `manifest.json`, and swap the new
// copy into place only when all of that succeeded.
import ARCCore
import Foundation

public struct FetchPlan: Sendable {
    public let source: DataSource
    /// Archive URL (http, https or file). Nil when `localDirectory` is used instead.
    public let url: URL?
    /// A Kaggle-layout folder to copy instead of an archive.
    public let localDirectory: URL?
    public let expectedSHA256: String?

    public var location: String { url?.absoluteString ?? localDirectory!.absoluteString }
}

public enum FetchError: Error, CustomStringConvertible {
    case unknownSource(String)
    case noLocation(String)
    case badLayout(source: String, reason: String)

    public var description: String {
        switch self {
        case let .unknownSource(s):
            return "unknown source '\(s)' (known: \(DataSource.all.map(\.name).joined(separator: ", ")))"
        case let .noLocation(m): return m
        case let .badLayout(source, reason): return "\(source): unexpected archive layout: \(reason)"
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
    private var checksumCache: [String: [String: String]] = [:]

    public init(dataDirectory: URL, downloader: Downloader = Downloader(), extractor: ArchiveExtractor = ArchiveExtractor(),
                log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.dataDirectory = dataDirectory
        self.downloader = downloader
        self.extractor = extractor
        self.log = log
    }

    /// Turns a user's `--mirror`/`ARC_MIRROR` value (URL or folder) into a base URL.
    public static func baseURL(_ location: String) -> URL {
        if location.hasPrefix("http://") || location.hasPrefix("https://") || location.hasPrefix("file:") {
            return URL(string: location.hasSuffix("/") ? location : location + "/")!
        }
        return URL(fileURLWithPath: location, isDirectory: true).standardizedFileURL
    }

    /// Decides where `source` comes from.
    /// - mirror: a base URL or folder holding the archives under their mirror names (and SHA256SUMS).
    /// - kaggleSource: for `kaggle`, the competition zip (path or URL) or an unpacked folder.
    public func plan(_ source: DataSource, mirror: String?, kaggleSource: String?, pinnedSHA256: String?) throws -> FetchPlan {
        if source == .kaggle, let k = kaggleSource {
            if !(k.hasPrefix("http://") || k.hasPrefix("https://") || k.hasPrefix("file:")) {
                var isDir: ObjCBool = false
                let u = URL(fileURLWithPath: k).standardizedFileURL
                guard FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir) else {
                    throw FetchError.noLocation("kaggle: \(u.path) does not exist (give the competition zip or its unpacked folder)")
                }
                if isDir.boolValue { return FetchPlan(source: source, url: nil, localDirectory: u, expectedSHA256: nil) }
                return FetchPlan(source: source, url: u, localDirectory: nil, expectedSHA256: pinnedSHA256)
            }
            return FetchPlan(source: source, url: URL(string: k)!, localDirectory: nil, expectedSHA256: pinnedSHA256)
        }
        if let mirror {
            let base = Self.baseURL(mirror)
            let url = base.appendingPathComponent(source.archiveName)
            let digest = try pinnedSHA256 ?? mirrorChecksums(base)[source.archiveName]
            return FetchPlan(source: source, url: url, localDirectory: nil, expectedSHA256: digest)
        }
        guard let url = source.defaultURL else {
            throw FetchError.noLocation("\(source.name): no public download; give --kaggle-source ZIP|DIR (the competition download) or --mirror")
        }
        return FetchPlan(source: source, url: url, localDirectory: nil, expectedSHA256: pinnedSHA256)
    }

    /// Reads `SHA256SUMS` beside the mirror's archives (empty when there is none).
    func mirrorChecksums(_ base: URL) throws -> [String: String] {
        if let cached = checksumCache[base.absoluteString] { return cached }
        let tmp = dataDirectory.appendingPathComponent(".downloads/SHA256SUMS-\(getpid())")
        defer { try? FileManager.default.removeItem(at: tmp) }
        var quiet = downloader
        quiet.options.quiet = true
        quiet.options.maxAttempts = 2
        var sums: [String: String] = [:]
        do {
            try quiet.download(base.appendingPathComponent("SHA256SUMS"), to: tmp)
            let text = try String(contentsOf: tmp, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                if parts.count == 2 { sums[String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "*"))] = String(parts[0]).lowercased() }
            }
        } catch {
            log("note: no SHA256SUMS at \(base.absoluteString) (\(error)); archives will not be checked against a known digest")
        }
        checksumCache[base.absoluteString] = sums
        return sums
    }

    public func sourceDirectory(_ source: DataSource) -> URL { dataDirectory.appendingPathComponent(source.name) }

    /// Fetches one source; returns `.upToDate` without downloading when the manifest shows
    /// the same location (and digest, when one is pinned).
    public func fetch(_ plan: FetchPlan) throws -> FetchOutcome {
        let fm = FileManager.default
        let target = sourceDirectory(plan.source)
        let manifestURL = target.appendingPathComponent(FetchManifest.fileName)
        if !force, let old = try? FetchManifest.read(manifestURL), old.url == plan.location,
           plan.expectedSHA256 == nil || plan.expectedSHA256!.lowercased() == old.sha256 {
            return .upToDate(old)
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
            try extractor.extract(archive, into: unpacked)
        } else if let dir = plan.localDirectory {
            try fm.copyItem(at: dir, to: unpacked)
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
                let set = try TaskLoader.loadDirectory(to, name: "\(source.name):\(name)")
                counts.append(.init(name: name, tasks: set.tasks.count, testInputs: set.testInputCount,
                                    withSolutions: set.tasks.allSatisfy(\.hasSolutions)))
            }
        case let .tree(path, split):
            let from = root.appendingPathComponent(path)
            guard fm.fileExists(atPath: from.path) else {
                throw FetchError.badLayout(source: source.name, reason: "no \(path)/ in the archive")
            }
            for item in try fm.contentsOfDirectory(atPath: from.path) where !item.hasPrefix(".") {
                try fm.moveItem(at: from.appendingPathComponent(item), to: staged.appendingPathComponent(item))
            }
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
        let backup = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).old")
        try? fm.removeItem(at: backup)
        let hadOld = fm.fileExists(atPath: target.path)
        if hadOld { try fm.moveItem(at: target, to: backup) }
        do { try fm.moveItem(at: staged, to: target) } catch {
            if hadOld { try? fm.moveItem(at: backup, to: target) }
            throw error
        }
        if hadOld { try? fm.removeItem(at: backup) }
    }
}
