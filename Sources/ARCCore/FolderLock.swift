// An exclusive lock on an output folder, so that two processes never write the same run:
// flock(2) on the file `.arc-pipeline.lock` inside the folder, which holds the holder's PID and
// command. The kernel drops the lock when its process ends, however it ends, so a lock file
// left by a dead process never blocks (only a live holder does). The file itself stays.
import Foundation

public final class FolderLock {
    public static let fileName = ".arc-pipeline.lock"

    public let folder: URL
    /// The folders `acquire` created, innermost first (the caller may remove them if it fails early).
    let createdFolders: [URL]
    private var descriptor: Int32

    private init(folder: URL, createdFolders: [URL], descriptor: Int32) {
        self.folder = folder
        self.createdFolders = createdFolders
        self.descriptor = descriptor
    }

    deinit { release() }

    /// Takes the lock of `folder` (created when missing) for `use` (e.g. "train"); throws one line
    /// naming the folder and the holder's PID when a live process holds it.
    public static func acquire(_ folder: URL, use: String, option: String = "--out") throws -> FolderLock {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let existed = fm.fileExists(atPath: folder.path, isDirectory: &isDirectory)
        if existed && !isDirectory.boolValue {
            throw ARCDataError(file: folder.path, message: "is a file, not a folder; choose another \(option)")
        }
        var created = [URL]()
        if !existed {
            var missing = folder.standardizedFileURL
            while missing.path != "/" && !fm.fileExists(atPath: missing.path) {
                created.append(missing)
                missing = missing.deletingLastPathComponent().standardizedFileURL
            }
            do { try fm.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw ARCDataError(file: folder.path, message: "cannot be created (\(OutputFolder.describe(error)))")
            }
        }
        let path = folder.appendingPathComponent(fileName).path
        // Retry when the lock file was replaced between open and flock (then the lock would not
        // be the one other processes see).
        for _ in 0..<10 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw ARCDataError(file: path, message: "cannot be opened (\(String(cString: strerror(errno))))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let reason = errno
                close(fd)
                guard reason == EWOULDBLOCK else {
                    throw ARCDataError(file: path, message: "cannot be locked (\(String(cString: strerror(reason))))")
                }
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                    .split(separator: "\n").map(String.init) ?? []
                let who = holder.first.map { "PID \($0)" } ?? "PID unknown"
                let what = holder.count > 1 ? ", \(holder[1])" : ""
                throw ARCDataError(file: folder.path, message: "is in use by another arc-pipeline process (\(who)\(what)); "
                    + "wait for it to finish, or stop it, or choose another \(option)")
            }
            var opened = stat(), current = stat()
            guard fstat(fd, &opened) == 0, stat(path, &current) == 0, opened.st_ino == current.st_ino, opened.st_dev == current.st_dev else {
                close(fd)
                continue
            }
            let text = "\(getpid())\n\(use)\n"
            _ = ftruncate(fd, 0)
            _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
            return FolderLock(folder: folder, createdFolders: created, descriptor: fd)
        }
        throw ARCDataError(file: path, message: "cannot be locked (it keeps being replaced)")
    }

    /// Drops the lock (the process ending drops it too).
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    /// Drops the lock and removes the folders `acquire` created when nothing but the lock file
    /// is in them (a run that failed before writing anything leaves no trace).
    public func releaseRemovingCreatedFolders() {
        let fm = FileManager.default
        if !createdFolders.isEmpty, let names = try? fm.contentsOfDirectory(atPath: folder.path), names == [Self.fileName] {
            try? fm.removeItem(at: folder.appendingPathComponent(Self.fileName))
            for created in createdFolders {
                guard rmdir(created.path) == 0 else { break }
            }
        }
        release()
    }
}
