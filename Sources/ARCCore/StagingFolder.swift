// An output folder built beside its final place and swapped in whole, so that readers see the
// previous complete output or the new complete one, never a mix or a half-written folder.
//
// The staging folder is `.<name>.partial-<pid>` next to the output, holds the marker file
// `.arc-pipeline-partial` and is flock(2)ed by its process while it is being written. Publishing
// renames the previous output (only one OutputFolder.state accepts) to `.<name>.old-<pid>`, the
// staging folder to the output, then deletes the old one. A staging or old folder whose process
// is gone (its PID is dead and nobody holds its lock) is stale and removed by the next staging
// beside it: any name when it carries the marker, the same output name otherwise (folders left
// by versions without the marker).
import Foundation

public final class StagingFolder {
    public static let markerName = ".arc-pipeline-partial"

    public let url: URL
    public let output: URL
    let kind: OutputKind
    private var descriptor: Int32 = -1

    /// Creates the staging folder for `output` (removing stale ones beside it first).
    public init(for output: URL, kind: OutputKind) throws {
        self.output = output.standardizedFileURL
        self.kind = kind
        let fm = FileManager.default
        let parent = self.output.deletingLastPathComponent()
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw ARCDataError(file: parent.path, message: "cannot be created (\(OutputFolder.describe(error)))")
        }
        Self.removeStale(in: parent, output: self.output.lastPathComponent)
        url = parent.appendingPathComponent(".\(self.output.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: url)  // this process's own, from an earlier attempt
        do {
            try fm.createDirectory(at: url, withIntermediateDirectories: false)
            try Data().write(to: url.appendingPathComponent(Self.markerName))
        } catch {
            try? fm.removeItem(at: url)
            throw ARCDataError(file: url.path, message: "cannot be created (\(OutputFolder.describe(error)))")
        }
        descriptor = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 { _ = flock(descriptor, LOCK_EX | LOCK_NB) }
    }

    deinit { unlock() }

    /// Swaps the staged folder in place of the output (which must still be missing, empty or a
    /// folder of this kind made by this program).
    public func publish() throws {
        let fm = FileManager.default
        let existing = try OutputFolder.state(of: output, kind: kind)
        try? fm.removeItem(at: url.appendingPathComponent(Self.markerName))
        let old = output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).old-\(getpid())")
        if existing != .missing {
            try? fm.removeItem(at: old)
            guard rename(output.path, old.path) == 0 else {
                throw ARCDataError(file: output.path, message: "cannot be moved aside to be replaced (\(String(cString: strerror(errno))))")
            }
        }
        guard rename(url.path, output.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if existing != .missing { _ = rename(old.path, output.path) }
            throw ARCDataError(file: output.path, message: "cannot be put in place (\(reason))")
        }
        unlock()
        if existing != .missing { try? fm.removeItem(at: old) }
    }

    /// Deletes the staged folder (on failure or interruption).
    public func discard() {
        try? FileManager.default.removeItem(at: url)
        unlock()
    }

    private func unlock() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    /// Removes the stale staging and old folders in `parent` (see the file header).
    static func removeStale(in parent: URL, output name: String) {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: parent.path) else { return }
        for entry in entries {
            guard let (base, kind, pid) = parse(entry), pid != getpid(), !isAlive(pid) else { continue }
            let folder = parent.appendingPathComponent(entry)
            var info = stat()
            guard lstat(folder.path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
            let marked = fm.fileExists(atPath: folder.appendingPathComponent(markerName).path)
            guard base == name || (kind == "partial" && marked) else { continue }
            // A live writer (even one whose PID this process cannot see) holds the lock.
            let fd = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            let free = flock(fd, LOCK_EX | LOCK_NB) == 0
            close(fd)
            if free { try? fm.removeItem(at: folder) }
        }
    }

    /// `.<base>.partial-<pid>` or `.<base>.old-<pid>` -> (base, "partial"/"old", pid).
    static func parse(_ entry: String) -> (String, String, pid_t)? {
        guard entry.hasPrefix("."), let dash = entry.lastIndex(of: "-"), let pid = pid_t(entry[entry.index(after: dash)...]), pid > 0 else { return nil }
        let head = entry[entry.index(after: entry.startIndex)..<dash]
        for kind in ["partial", "old"] where head.hasSuffix("." + kind) {
            let base = String(head.dropLast(kind.count + 1))
            return base.isEmpty ? nil : (base, kind, pid)
        }
        return nil
    }

    static func isAlive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 || errno == EPERM }
}
