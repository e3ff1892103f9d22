// NumPy `.npy` files (format version 1.0), the array format of the reference's built datasets
// (docs/DESIGN.md "Formats"): a magic string, a little-endian header length, a Python-dict header
// `{'descr': '|u1', 'fortran_order': False, 'shape': (N, 900), }` padded with spaces to a
// multiple of 64 bytes and ended by '\n', then the raw C-order data.
//
// Public API:
//   NpyDType                          .uint8 '|u1', .int8, .bool, .int32 '<i4', .int64, .float32, .float64
//   NpyHeader(dtype:shape:fortranOrder:), .encoded(minimumLength:), NpyHeader.parse(_:) -> (header, dataOffset)
//   NpyFile(contentsOf:)              read-only memory map of a file (never loads it whole)
//     .header .shape .dtype .elementCount .rowCount .rowLength
//     .withUnsafeRawData { UnsafeRawBufferPointer in ... }
//     .uint8Row(_:) -> UnsafeBufferPointer<UInt8>      (2-D uint8 arrays such as inputs/labels)
//     .int32Values() -> [Int32]  (int32, or int64 / uint8 converted)   .uint8Values() -> [UInt8]
//   NpyFile.write(uint8:shape:to:) / write(int32:shape:to:)   whole array, temp file + rename
//   NpyWriter(url:dtype:rowShape:)    streaming writer: append rows, finish() writes the final
//     shape into a fixed-size header, fsyncs; it writes to `url` directly (the dataset builder
//     writes into a temporary directory that it renames as a whole).
import ARCCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum NpyDType: String, Sendable, CaseIterable {
    case uint8 = "|u1"
    case int8 = "|i1"
    case bool = "|b1"
    case int32 = "<i4"
    case int64 = "<i8"
    case float32 = "<f4"
    case float64 = "<f8"

    public var byteCount: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .int32, .float32: return 4
        case .int64, .float64: return 8
        }
    }

    /// Accepts the spellings numpy writes on little-endian machines (`<u1`, `|u1`, `u1`, ...).
    public init?(descr: String) {
        var d = descr
        if let first = d.first, "<|=".contains(first) { d.removeFirst() }
        switch d {
        case "u1": self = .uint8
        case "i1": self = .int8
        case "b1": self = .bool
        case "i4": self = .int32
        case "i8": self = .int64
        case "f4": self = .float32
        case "f8": self = .float64
        default: return nil
        }
    }
}

public struct NpyError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let message: String
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

public struct NpyHeader: Equatable, Sendable {
    public var dtype: NpyDType
    public var shape: [Int]
    public var fortranOrder: Bool

    public init(dtype: NpyDType, shape: [Int], fortranOrder: Bool = false) {
        self.dtype = dtype
        self.shape = shape
        self.fortranOrder = fortranOrder
    }

    public var elementCount: Int { shape.reduce(1, *) }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// The whole preamble (magic, version 1.0, length, dict, padding, '\n'), its length a multiple
    /// of 64 and at least `minimumLength` (a streaming writer reserves room for the final shape).
    public func encoded(minimumLength: Int = 0) -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        let unpadded = 10 + dict.utf8.count + 1
        var total = (unpadded + 63) / 64 * 64
        while total < minimumLength { total += 64 }
        let headerLength = total - 10
        precondition(headerLength <= 65535, "npy header too long")
        var out = NpyHeader.magic + [1, 0, UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
        out += Array(dict.utf8)
        out += [UInt8](repeating: 0x20, count: total - unpadded)
        out.append(0x0A)
        return out
    }

    /// Longest header accepted (numpy itself refuses headers over 10,000 bytes by default).
    public static let maximumHeaderLength = 1 << 20

    /// Elements of `shape` and their bytes at `byteCount` bytes each, or nil when either count
    /// (or the product of the dimensions after the first, the row length) overflows Int.
    static func checkedSizes(shape: [Int], byteCount: Int) -> (elements: Int, rowLength: Int, bytes: Int)? {
        var rowLength = 1
        for extent in shape.dropFirst() {
            guard extent >= 0 else { return nil }
            let (product, overflow) = rowLength.multipliedReportingOverflow(by: extent)
            if overflow { return nil }
            rowLength = product
        }
        let rows = shape.first ?? 1
        guard rows >= 0 else { return nil }
        let (elements, overflowElements) = rows.multipliedReportingOverflow(by: rowLength)
        if overflowElements { return nil }
        let (bytes, overflowBytes) = elements.multipliedReportingOverflow(by: byteCount)
        if overflowBytes { return nil }
        return (elements, rowLength, bytes)
    }

    /// Parses a preamble (versions 1.0, 2.0, 3.0). Returns the header and the data offset.
    /// Checks that the element count and byte size of the shape fit Int (not that the data is there:
    /// see `parse(_:file:dataLength:)`).
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String = "<npy>") throws -> (NpyHeader, Int) {
        func fail(_ m: String) -> NpyError { NpyError(file: file, message: m) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (bad magic)") }
        let major = bytes[6]
        let lengthBytes: Int, headerLength: Int
        switch major {
        case 1:
            lengthBytes = 2
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            lengthBytes = 4
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default: throw fail("unsupported .npy version \(major)")
        }
        guard headerLength <= maximumHeaderLength else {
            throw fail("header length \(headerLength) is larger than \(maximumHeaderLength) bytes")
        }
        let start = 8 + lengthBytes, end = start + headerLength
        guard bytes.count >= end else { throw fail("truncated header (needs \(end) bytes, file has \(bytes.count))") }
        guard let text = String(bytes: bytes[start..<end], encoding: major == 3 ? .utf8 : .isoLatin1) else { throw fail("header is not text") }
        let shown = text.count > 200 ? String(text.prefix(200)) + "..." : text
        func value(_ key: String) throws -> Substring {
            guard let k = text.range(of: "'\(key)'") else { throw fail("header has no '\(key)': \(shown)") }
            var rest = text[k.upperBound...].drop { $0 == " " || $0 == ":" }
            if rest.first == "(" {
                guard let close = rest.firstIndex(of: ")") else { throw fail("unterminated shape in header: \(shown)") }
                return rest[rest.startIndex...close]
            }
            if rest.first == "'" {
                rest = rest.dropFirst()
                guard let close = rest.firstIndex(of: "'") else { throw fail("unterminated string in header: \(shown)") }
                return rest[..<close]
            }
            return rest.prefix { $0 != "," && $0 != "}" }
        }
        let descr = String(try value("descr"))
        guard let dtype = NpyDType(descr: descr) else { throw fail("unsupported dtype '\(descr.prefix(40))'") }
        let fortranText = try value("fortran_order").trimmingCharacters(in: .whitespaces)
        guard fortranText == "False" || fortranText == "True" else { throw fail("bad fortran_order '\(fortranText.prefix(40))'") }
        let shapeValue = try value("shape")
        guard shapeValue.first == "(", shapeValue.last == ")" else { throw fail("shape is not a tuple: \(shown)") }
        let shapeText = shapeValue.dropFirst().dropLast()
        var shape = [Int]()
        for part in shapeText.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let n = Int(t), n >= 0 else { throw fail("bad shape entry '\(t.prefix(40))' (expected an integer 0...\(Int.max))") }
            shape.append(n)
        }
        guard checkedSizes(shape: shape, byteCount: dtype.byteCount) != nil else {
            throw fail("shape \(shape) of \(dtype.rawValue) has more elements or bytes than fit in memory")
        }
        return (NpyHeader(dtype: dtype, shape: shape, fortranOrder: fortranText == "True"), end)
    }

    /// Parses a preamble and checks that a file of `dataLength` bytes holds all the data it
    /// describes (in C order). Returns the header, the data offset and the data's byte count.
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String, dataLength: Int) throws -> (NpyHeader, Int, Int) {
        let (h, offset) = try parse(bytes, file: file)
        guard !h.fortranOrder else { throw NpyError(file: file, message: "Fortran-order arrays are not supported") }
        guard let sizes = checkedSizes(shape: h.shape, byteCount: h.dtype.byteCount) else {
            throw NpyError(file: file, message: "shape \(h.shape) of \(h.dtype.rawValue) has more elements or bytes than fit in memory")
        }
        let (needed, overflow) = offset.addingReportingOverflow(sizes.bytes)
        guard !overflow, needed <= dataLength else {
            throw NpyError(file: file, message: "truncated: shape \(h.shape) of \(h.dtype.rawValue) needs \(overflow ? "more than \(Int.max)" : String(needed)) bytes, file has \(dataLength)")
        }
        return (h, offset, sizes.bytes)
    }
}

/// A read-only memory map of one `.npy` file.
public final class NpyFile: @unchecked Sendable {
    public let url: URL
    public let header: NpyHeader
    public let dataOffset: Int
    private let mapping: UnsafeMutableRawPointer?
    private let mappedLength: Int

    public var dtype: NpyDType { header.dtype }
    public var shape: [Int] { header.shape }
    public var elementCount: Int { header.elementCount }
    /// Size of the first dimension (1 for 0-d arrays).
    public var rowCount: Int { shape.first ?? 1 }
    /// Elements per row: the product of all dimensions after the first.
    public var rowLength: Int { shape.dropFirst().reduce(1, *) }

    public init(contentsOf url: URL) throws {
        self.url = url
        let path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw NpyError(file: path, message: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw NpyError(file: path, message: "cannot stat: \(String(cString: strerror(errno)))") }
        let length = Int(info.st_size)
        guard length >= 10 else { throw NpyError(file: path, message: "not a .npy file (\(length) bytes)") }
        guard let p = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw NpyError(file: path, message: "cannot map: \(String(cString: strerror(errno)))")
        }
        mapping = p
        mappedLength = length
        do {
            let (h, offset, _) = try NpyHeader.parse(UnsafeRawBufferPointer(start: p, count: length), file: path, dataLength: length)
            header = h
            dataOffset = offset
        } catch {
            munmap(p, length)
            throw error
        }
    }

    deinit { if let mapping { munmap(mapping, mappedLength) } }

    /// The array's raw little-endian bytes (elementCount * dtype.byteCount).
    public func withUnsafeRawData<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: mapping! + dataOffset, count: elementCount * dtype.byteCount))
    }

    /// Row `index` of a uint8 array (for inputs/labels: one sequence of seq_len tokens).
    public func uint8Row(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        precondition(dtype == .uint8 || dtype == .bool || dtype == .int8, "\(url.path): uint8Row on a \(dtype.rawValue) array")
        precondition(index >= 0 && index < rowCount, "\(url.path): row \(index) outside 0..<\(rowCount)")
        let base = (mapping! + dataOffset + index * rowLength).assumingMemoryBound(to: UInt8.self)
        return UnsafeBufferPointer(start: base, count: rowLength)
    }

    public func uint8Values() throws -> [UInt8] {
        guard dtype == .uint8 else { throw NpyError(file: url.path, message: "dtype is \(dtype.rawValue), expected |u1") }
        return withUnsafeRawData { [UInt8]($0) }
    }

    /// All values as Int32 (int32 as stored; int64 and uint8 converted; int64 out of range fails).
    public func int32Values() throws -> [Int32] {
        try withUnsafeRawData { raw in
            switch dtype {
            case .int32:
                return (0..<elementCount).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self).littleEndian }
            case .int64:
                return try (0..<elementCount).map {
                    let v = raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self).littleEndian
                    guard let w = Int32(exactly: v) else { throw NpyError(file: url.path, message: "value \(v) at \($0) does not fit Int32") }
                    return w
                }
            case .uint8:
                return raw.map { Int32($0) }
            default:
                throw NpyError(file: url.path, message: "dtype is \(dtype.rawValue), expected an integer array")
            }
        }
    }

    /// Writes a whole uint8 array (temp file + rename).
    public static func write(uint8 values: [UInt8], shape: [Int], to url: URL) throws {
        let header = NpyHeader(dtype: .uint8, shape: shape)
        precondition(header.elementCount == values.count, "npy write: \(values.count) values for shape \(shape)")
        try AtomicFile.write(Data(header.encoded() + values), to: url)
    }

    /// Writes a whole int32 array, little-endian (temp file + rename).
    public static func write(int32 values: [Int32], shape: [Int], to url: URL) throws {
        let header = NpyHeader(dtype: .int32, shape: shape)
        precondition(header.elementCount == values.count, "npy write: \(values.count) values for shape \(shape)")
        var data = Data(header.encoded())
        values.map { $0.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
        try AtomicFile.write(data, to: url)
    }
}

/// Streams rows into a `.npy` file whose first dimension is only known at the end.
public final class NpyWriter {
    public let url: URL
    public let dtype: NpyDType
    public let rowShape: [Int]
    public private(set) var rowCount = 0
    public private(set) var bytesWritten = 0
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    private let rowBytes: Int
    /// Room for any first dimension up to 20 digits.
    private let headerLength: Int

    public init(url: URL, dtype: NpyDType, rowShape: [Int]) throws {
        self.url = url
        self.dtype = dtype
        self.rowShape = rowShape
        rowBytes = rowShape.reduce(1, *) * dtype.byteCount
        headerLength = NpyHeader(dtype: dtype, shape: [Int(Int64.max)] + rowShape).encoded().count
        fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw NpyError(file: url.path, message: "cannot create: \(String(cString: strerror(errno)))") }
        buffer.reserveCapacity(bufferLimit)
        // Placeholder header (shape 0); finish() rewrites it in place with the same length.
        buffer += NpyHeader(dtype: dtype, shape: [0] + rowShape).encoded(minimumLength: headerLength)
    }

    deinit { if fd >= 0 { close(fd) } }

    private func writeAll(_ raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw NpyError(file: url.path, message: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    private func flushBuffer() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Appends whole rows given as raw bytes (a multiple of the row size, little-endian).
    public func append(rows raw: UnsafeRawBufferPointer) throws {
        precondition(raw.count % rowBytes == 0, "\(url.path): \(raw.count) bytes is not a whole number of \(rowBytes)-byte rows")
        if buffer.count + raw.count > bufferLimit { try flushBuffer() }
        if raw.count >= bufferLimit {
            try writeAll(raw)
        } else {
            buffer.append(contentsOf: raw)
        }
        rowCount += raw.count / rowBytes
        bytesWritten += raw.count
    }

    public func append(uint8 values: [UInt8]) throws {
        precondition(dtype == .uint8)
        try values.withUnsafeBytes { try append(rows: $0) }
    }

    public func append(int32 values: [Int32]) throws {
        precondition(dtype == .int32)
        try values.map { $0.littleEndian }.withUnsafeBytes { try append(rows: $0) }
    }

    /// Writes the final header, fsyncs and closes. Returns the file size.
    @discardableResult
    public func finish() throws -> Int {
        try flushBuffer()
        let header = NpyHeader(dtype: dtype, shape: [rowCount] + rowShape).encoded(minimumLength: headerLength)
        precondition(header.count == headerLength)
        try header.withUnsafeBytes { raw in
            guard pwrite(fd, raw.baseAddress!, raw.count, 0) == raw.count else {
                throw NpyError(file: url.path, message: "header write failed: \(String(cString: strerror(errno)))")
            }
        }
        guard fsync(fd) == 0 else { throw NpyError(file: url.path, message: "fsync failed: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        return headerLength + bytesWritten
    }
}
