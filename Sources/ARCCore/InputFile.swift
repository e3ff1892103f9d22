// Reading a whole input file (task files, challenges, solutions, submissions, predictions, run
// files, checkpoints) with a short reason when it cannot be read -- "is a directory", "is not a
// regular file (a FIFO, device or socket)", "is a symbolic link loop", "no such file", "cannot be
// read: permission denied" -- instead of Foundation's text ("NSCocoaErrorDomain error 256" for a
// folder or a link loop, "You don't have permission" for a FIFO or a device).
import Foundation

public enum InputFile {
    /// Why a file cannot be read: a phrase that follows the file's name ("x.json: is a directory").
    public struct Unreadable: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The bytes of the regular file at `url` (symbolic links followed); anything else throws `Unreadable`.
    public static func read(_ url: URL) throws -> Data {
        var info = stat()
        guard stat(url.path, &info) == 0 else { throw Unreadable(reason(errno: errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw Unreadable("is a directory")
        default: throw Unreadable("is not a regular file (a FIFO, device or socket)")
        }
        do { return try Data(contentsOf: url) } catch { throw Unreadable(reason(of: error)) }
    }

    static func reason(errno code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case ELOOP: return "is a symbolic link loop"
        case EISDIR: return "is a directory"
        case ENOTDIR: return "no such file (a part of its path is not a folder)"
        case EACCES, EPERM: return "cannot be read: permission denied"
        default: return "cannot be read: " + String(cString: strerror(code))
        }
    }

    /// A reading error of Foundation as a reason (its POSIX cause when it has one).
    static func reason(of error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return reason(errno: Int32(clamping: ns.code)) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return reason(errno: Int32(clamping: underlying.code))
        }
        switch ns.code {
        case CocoaError.fileReadNoSuchFile.rawValue, CocoaError.fileNoSuchFile.rawValue: return "no such file"
        case CocoaError.fileReadNoPermission.rawValue: return "cannot be read: permission denied"
        case CocoaError.fileReadTooLarge.rawValue: return "cannot be read: too large"
        default: return "cannot be read (error \(ns.code))"
        }
    }
}
