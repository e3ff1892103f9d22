// Crash-safe writes: write to a temporary file beside the target, fsync, then rename. Failures
// are one line naming the file and the system's reason (ARCDataError), never an NSError dump.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum AtomicFile {
    /// Writes `data` to `url` so that readers see either the old file or the complete new one.
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            _ = try OutputFolder.nearestExistingAncestor(of: dir, for: url.path)  // names a file in the way
            throw ARCDataError(file: url.path, message: "cannot be written: its folder cannot be created (\(OutputFolder.describe(error)))")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        func failure(_ what: String) -> ARCDataError {
            ARCDataError(file: url.path, message: "cannot be written: \(what) (\(String(cString: strerror(errno))))")
        }
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw failure("creating a temporary file beside it fails") }
        var failed: ARCDataError? = nil
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = failure("writing fails")
                    return
                }
                offset += n
            }
        }
        if failed == nil && fsync(fd) != 0 { failed = failure("fsync fails") }
        if close(fd) != 0 && failed == nil { failed = failure("closing fails") }
        if failed == nil && rename(tmp.path, url.path) != 0 { failed = failure("renaming the temporary file into place fails") }
        if let failed {
            unlink(tmp.path)
            throw failed
        }
    }

    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }
}
