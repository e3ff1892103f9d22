// Shared helpers for fetch tests: archives built with libarchive (temporary folders and the offline
// mirror are TestHelpers' TestPaths).
import CArchive
import Foundation
import XCTest

/// Builds small zip / tar.gz archives for tests, including hostile ones.
enum ArchiveBuilder {
    enum Entry {
        case file(String, Data)
        case directory(String)
        case symlink(String, target: String)
        /// A hard link to `target` (another member's path, or anything a hostile archive names).
        case hardLink(String, target: String)
        /// A named pipe (a special file).
        case fifo(String)
        /// A regular file of `size` zero bytes, written in chunks.
        case zeros(String, size: Int64)
    }

    enum Format { case zip, tarGz }

    static func write(_ entries: [Entry], format: Format, to url: URL) throws {
        guard let a = archive_write_new() else { throw CocoaError(.fileWriteUnknown) }
        defer { archive_write_free(a) }
        switch format {
        case .zip:
            archive_write_set_format_zip(a)
        case .tarGz:
            archive_write_set_format_pax_restricted(a)
            archive_write_add_filter_gzip(a)
            archive_write_set_filter_option(a, "gzip", "compression-level", "1")
        }
        guard archive_write_open_filename(a, url.path) == ARCHIVE_OK else {
            throw NSError(domain: "archive", code: 1, userInfo: [NSLocalizedDescriptionKey: String(cString: archive_error_string(a))])
        }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        for e in entries {
            let entry = archive_entry_new()!
            defer { archive_entry_free(entry) }
            switch e {
            case let .file(path, data):
                archive_entry_set_pathname(entry, path)
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_perm(entry, 0o644)
                archive_entry_set_size(entry, la_int64_t(data.count))
                archive_write_header(a, entry)
                data.withUnsafeBytes { _ = archive_write_data(a, $0.baseAddress, $0.count) }
            case let .directory(path):
                archive_entry_set_pathname(entry, path)
                archive_entry_set_filetype(entry, 0o040000)
                archive_entry_set_perm(entry, 0o755)
                archive_write_header(a, entry)
            case let .symlink(path, target):
                archive_entry_set_pathname(entry, path)
                archive_entry_set_filetype(entry, 0o120000)
                archive_entry_set_perm(entry, 0o777)
                archive_entry_set_symlink(entry, target)
                archive_write_header(a, entry)
            case let .hardLink(path, target):
                archive_entry_set_pathname(entry, path)
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_perm(entry, 0o644)
                archive_entry_set_hardlink(entry, target)
                archive_entry_set_size(entry, 0)
                archive_write_header(a, entry)
            case let .fifo(path):
                archive_entry_set_pathname(entry, path)
                archive_entry_set_filetype(entry, 0o010000)
                archive_entry_set_perm(entry, 0o644)
                archive_write_header(a, entry)
            case let .zeros(path, size):
                archive_entry_set_pathname(entry, path)
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_perm(entry, 0o644)
                archive_entry_set_size(entry, la_int64_t(size))
                archive_write_header(a, entry)
                var left = size
                while left > 0 {
                    let n = Int(min(left, Int64(chunk.count)))
                    chunk.withUnsafeBytes { _ = archive_write_data(a, $0.baseAddress, n) }
                    left -= Int64(n)
                }
            }
        }
        archive_write_close(a)
    }
}

/// A valid one-task JSON file.
let sampleTaskJSON = Data(#"{"train":[{"input":[[1,2],[3,4]],"output":[[4,3],[2,1]]}],"test":[{"input":[[5]],"output":[[6]]}]}"#.utf8)
