// The rules for folders the commands write (built datasets, run folders, evaluation outputs):
// - an existing folder is replaced or reused only when it is empty or this program made it
//   (its marker file is there and every entry is a name this kind of folder holds), never a
//   regular file, a symbolic link or a folder holding anything else;
// - an output is never an input, never holds one, and never lies inside a source folder;
// - its location is checked for writing (a folder is actually created and removed there) before
//   any long work starts.
// Every refusal is one line naming the path and what to do (ARCDataError).
import Foundation

/// What a kind of output folder holds, and the file that marks it as made by this program.
public struct OutputKind: Sendable {
    /// For messages: "built dataset", "run folder", "evaluation output folder".
    public var noun: String
    /// The file this program writes into every such folder (e.g. `build_info.json`).
    public var marker: String
    /// Every top-level name such a folder holds when this program made it.
    public var entries: Set<String>

    public init(noun: String, marker: String, entries: Set<String>) {
        self.noun = noun
        self.marker = marker
        self.entries = entries
    }

    /// A built dataset (`build-dataset`, DatasetBuilder).
    public static let dataset = OutputKind(noun: "built dataset", marker: "build_info.json",
                                           entries: ["build_info.json", "identifiers.json", "test_puzzles.json", "train", "test"])
    /// A training run folder (`train`).
    public static let run = OutputKind(noun: "run folder", marker: "config.json",
                                       entries: ["config.json", "metrics.jsonl", "checkpoints", "training_summary.json", FolderLock.fileName])
    /// The outputs of one evaluation (`evaluate`, `train-eval`).
    public static let evaluation = OutputKind(noun: "evaluation output folder", marker: "evaluation.json",
                                              entries: ["submission.json", "predictions.jsonl", "evaluation.json", "score.json", "report.html"])
}

/// An input an output must keep clear of.
public struct ProtectedInput: Sendable {
    public var url: URL
    /// For messages, e.g. "the --data-dir" or "the source folder of arc-agi-1:training".
    public var description: String
    /// True when the output may lie inside it (the default `<data-dir>/built/<name>`), false for a
    /// folder that is read recursively (anything inside it would be read as input).
    public var outputMayBeInside: Bool

    public init(_ url: URL, _ description: String, outputMayBeInside: Bool = false) {
        self.url = url
        self.description = description
        self.outputMayBeInside = outputMayBeInside
    }
}

public enum OutputFolder {
    /// What stands at an output path that may be used.
    public enum Existing: Sendable, Equatable {
        case missing
        /// A folder with nothing in it (but this program's lock or temporary files).
        case empty
        /// A folder this program made, of the kind asked for.
        case made
    }

    /// Checks that `folder` may be written as `kind` (see the file header) and that it can be
    /// created or written there. `replacesWhole`: the folder is rebuilt beside and swapped in (its
    /// parent must be writable); otherwise it is written in place (the folder itself must be).
    @discardableResult
    public static func check(_ folder: URL, kind: OutputKind, option: String = "--out", replacesWhole: Bool) throws -> Existing {
        let folder = folder.standardizedFileURL
        let path = folder.path
        let existing = try state(of: folder, kind: kind, option: option)
        if existing == .missing || replacesWhole {
            try probeWritable(nearestExistingAncestor(of: folder.deletingLastPathComponent(), for: path), for: path)
        } else {
            try probeWritable(folder, for: path)
        }
        return existing
    }

    /// What is at `folder`: missing, an empty folder, or a folder of `kind` made by this program;
    /// anything else throws.
    public static func state(of folder: URL, kind: OutputKind, option: String = "--out") throws -> Existing {
        let path = folder.standardizedFileURL.path
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return .missing }  // ENOTDIR: a file above it (check says which)
            throw ARCDataError(file: path, message: "cannot be examined (\(String(cString: strerror(errno))))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK:
            throw ARCDataError(file: path, message: "is a symbolic link; give the folder itself as \(option) (refusing to replace a link)")
        default:
            throw ARCDataError(file: path, message: "is a file, not a folder; refusing to replace it: choose another \(option)")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw ARCDataError(file: path, message: "cannot be listed (\(describe(error))); choose another \(option)")
        }
        let relevant = names.filter { !isOwnScratch($0, kind: kind) }.sorted()
        if relevant.isEmpty { return .empty }
        let foreign = relevant.filter { !kind.entries.contains($0) }
        if !foreign.isEmpty {
            let shown = foreign.prefix(3).joined(separator: ", ") + (foreign.count > 3 ? ", ..." : "")
            throw ARCDataError(file: path, message: "holds files that are not part of a \(kind.noun) written by arc-pipeline (\(shown)); "
                + "refusing to replace or mix into it: choose a new or empty folder as \(option)")
        }
        guard relevant.contains(kind.marker) else {
            throw ARCDataError(file: path, message: "is not a \(kind.noun) written by arc-pipeline (no \(kind.marker)); "
                + "refusing to replace it: choose a new or empty folder as \(option)")
        }
        return .made
    }

    /// Refuses an output that is, holds, or (for inputs read recursively) lies inside an input.
    public static func checkApart(_ output: URL, option: String = "--out", from inputs: [ProtectedInput]) throws {
        let out = canonicalPath(output)
        for input in inputs {
            let inputPath = canonicalPath(input.url)
            if out == inputPath {
                throw ARCDataError(file: output.path, message: "\(option) is \(input.description); an output never replaces an input: choose another \(option)")
            }
            if isInside(inputPath, out) {
                throw ARCDataError(file: output.path, message: "\(option) holds \(input.description) (\(input.url.path)); "
                    + "an output never replaces an input: choose another \(option)")
            }
            if !input.outputMayBeInside && isInside(out, inputPath) {
                throw ARCDataError(file: output.path, message: "\(option) lies inside \(input.description) (\(input.url.path)), "
                    + "which is read as input: choose a folder outside it")
            }
        }
    }

    /// Checks that the output file `file` may be written: missing (its folder can be created), or a
    /// regular file that `madeByThisProgram` recognises from its bytes; never a user's file, a folder
    /// or a link. `noun` names it in messages ("report").
    public static func checkFile(_ file: URL, noun: String, option: String = "--out", madeByThisProgram: (Data) -> Bool) throws {
        let file = file.standardizedFileURL
        var info = stat()
        guard lstat(file.path, &info) == 0 else {
            guard errno == ENOENT || errno == ENOTDIR else {
                throw ARCDataError(file: file.path, message: "cannot be examined (\(String(cString: strerror(errno))))")
            }
            try probeWritable(nearestExistingAncestor(of: file.deletingLastPathComponent(), for: file.path), for: file.path)
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw ARCDataError(file: file.path, message: "is a folder; give a file name as \(option)")
        case S_IFLNK: throw ARCDataError(file: file.path, message: "is a symbolic link; refusing to overwrite it: choose another \(option)")
        default: throw ARCDataError(file: file.path, message: "is not a regular file; choose another \(option)")
        }
        guard let data = FileManager.default.contents(atPath: file.path), madeByThisProgram(data) else {
            throw ARCDataError(file: file.path, message: "is not a \(noun) written by arc-pipeline; refusing to overwrite it: choose another \(option)")
        }
        try probeWritable(file.deletingLastPathComponent(), for: file.path)
    }

    /// Removes the entries of a folder of `kind` (made by this program, as `state` checked) except
    /// the lock, so that a new run starts without another run's files.
    public static func clear(_ folder: URL, kind: OutputKind) throws {
        guard try state(of: folder, kind: kind) != .missing else { return }
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: folder.path) where name != FolderLock.fileName {
            try fm.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// `path` with `..`, `.` and the symbolic links of its existing part resolved.
    public static func canonicalPath(_ url: URL) -> String {
        var existing = url.standardizedFileURL
        var rest = [String]()
        var info = stat()
        while existing.path != "/" && lstat(existing.path, &info) != 0 {
            rest.insert(existing.lastPathComponent, at: 0)
            existing = existing.deletingLastPathComponent().standardizedFileURL
        }
        var base = existing.path
        if let resolved = realpath(existing.path, nil) {
            base = String(cString: resolved)
            free(resolved)
        }
        return rest.reduce(base) { $0 == "/" ? "/" + $1 : $0 + "/" + $1 }
    }

    /// True when `inner` lies strictly inside `outer` (both canonical paths).
    static func isInside(_ inner: String, _ outer: String) -> Bool {
        outer == "/" ? inner != "/" : inner.hasPrefix(outer + "/")
    }

    /// This program's lock and temporary files, which do not count as content.
    static func isOwnScratch(_ name: String, kind: OutputKind) -> Bool {
        if name == FolderLock.fileName || name == StagingFolder.markerName { return true }
        // AtomicFile's temporary files: `.<name>.tmp-<pid>-<random>`.
        guard name.hasPrefix("."), let range = name.range(of: ".tmp-") else { return false }
        return kind.entries.contains(String(name[name.index(after: name.startIndex)..<range.lowerBound]))
    }

    /// The nearest folder at or above `url` that exists; throws (naming `target`) when a file
    /// stands in the way.
    static func nearestExistingAncestor(of url: URL, for target: String) throws -> URL {
        var current = url.standardizedFileURL
        var info = stat()
        while stat(current.path, &info) != 0 {
            guard errno == ENOENT || errno == ENOTDIR, current.path != "/" else {
                throw ARCDataError(file: target, message: "cannot be created: \(current.path) cannot be examined (\(String(cString: strerror(errno))))")
            }
            current = current.deletingLastPathComponent().standardizedFileURL
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw ARCDataError(file: target, message: "cannot be created: \(current.path) is a file, not a folder")
        }
        return current
    }

    /// Creates and removes a folder inside `directory` to prove that `target` can be written there.
    static func probeWritable(_ directory: URL, for target: String) throws {
        var template = Array(directory.appendingPathComponent(".arc-pipeline-probe-XXXXXX").path.utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else {
            let reason = String(cString: strerror(errno))
            throw ARCDataError(file: target, message: "cannot be written: creating a folder in \(directory.path) fails (\(reason))")
        }
        rmdir(made)
    }

    /// One line for a file-system error (never a raw NSError dump).
    public static func describe(_ error: Error) -> String {
        if let error = error as? ARCDataError { return error.description }
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return String(describing: error) }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey].flatMap({ $0 as? Error }).map({ $0 as NSError }),
           underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        let reasons: [Int: String] = [
            CocoaError.fileNoSuchFile.rawValue: "no such file or folder", CocoaError.fileReadNoSuchFile.rawValue: "no such file or folder",
            CocoaError.fileWriteFileExists.rawValue: "a file is in the way", CocoaError.fileWriteNoPermission.rawValue: "permission denied",
            CocoaError.fileReadNoPermission.rawValue: "permission denied", CocoaError.fileWriteOutOfSpace.rawValue: "no space left on the device",
            CocoaError.fileWriteVolumeReadOnly.rawValue: "read-only file system",
        ]
        let path = (ns.userInfo[NSFilePathErrorKey] as? String).map { ": \($0)" } ?? ""
        return (reasons[ns.code] ?? "file system error \(ns.code)") + path
    }
}
