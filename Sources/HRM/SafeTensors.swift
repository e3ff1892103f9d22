// SafeTensors: read and write the safetensors format (u64 little-endian header length, JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, raw little-endian data).
// Loads F32, F64, BF16, F16 (as Float) and I32, I64 (as Int64); writes F32 and I32. Names with a
// torch.compile `_orig_mod.` prefix are stripped on load (docs/SPEC.md §4). Writes go through a temp
// file + rename. Reading is strict on hostile files: the header (at most 100 MB of JSON, no
// duplicate names) must give every tensor a supported dtype, a shape whose size fits Int, and
// data_offsets inside the body that match that size and do not overlap another tensor's.
import ARCCore
import Foundation

public struct SafeTensor: Sendable {
    public let name: String
    public let dtype: String
    public let shape: [Int]
    /// Floating data converted to Float (nil for integer tensors).
    public let floats: [Float]?
    /// Integer data (nil for floating tensors).
    public let integers: [Int64]?

    public init(name: String, shape: [Int], floats: [Float]) {
        self.name = name; self.dtype = "F32"; self.shape = shape; self.floats = floats; self.integers = nil
    }
    public init(name: String, shape: [Int], int32: [Int32]) {
        self.name = name; self.dtype = "I32"; self.shape = shape; self.floats = nil; self.integers = int32.map { Int64($0) }
    }
    init(name: String, dtype: String, shape: [Int], floats: [Float]?, integers: [Int64]?) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.floats = floats; self.integers = integers
    }

    public var count: Int { shape.reduce(1, *) }
}

public struct SafeTensorsFile: Sendable {
    public var tensors: [String: SafeTensor]
    public var metadata: [String: String]

    public init(tensors: [String: SafeTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public subscript(name: String) -> SafeTensor? { tensors[name] }

    /// Largest header accepted (the safetensors library's own limit).
    public static let maximumHeaderLength: UInt64 = 100_000_000

    /// Reads a file; errors name the file and the offending tensor or field.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let data: Data
        do { data = try InputFile.read(url) } catch {
            throw HRMError.safetensors("\(url.path): \(error)")
        }
        return try parse(data, source: url.path)
    }

    public static func parse(_ data: Data, source: String) throws -> SafeTensorsFile {
        func fail(_ message: String) -> HRMError { .safetensors("\(source): \(message)") }
        guard data.count >= 8 else { throw fail("shorter than the 8-byte header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLength <= maximumHeaderLength else { throw fail("header length \(headerLength) is larger than \(maximumHeaderLength) bytes") }
        guard headerLength <= UInt64(data.count - 8) else { throw fail("header length \(headerLength) exceeds file size \(data.count)") }
        let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(headerLength)))
        let header: JSONValue
        do { header = try JSONParser.parse(headerData) } catch { throw fail("header: \(error)") }
        guard case let .object(members) = header else { throw fail("header is \(header.kindName), expected a JSON object") }
        let base = data.startIndex + 8 + Int(headerLength)
        let bodySize = data.count - 8 - Int(headerLength)
        var result = SafeTensorsFile()
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (rawName, value) in members {
            if rawName == "__metadata__" {
                guard case let .object(entries) = value else { throw fail("__metadata__ must map strings to strings") }
                for (key, item) in entries {
                    guard case let .string(text) = item else { throw fail("__metadata__.\(key) is \(item.kindName), expected a string") }
                    result.metadata[key] = text
                }
                continue
            }
            func bad(_ message: String) -> HRMError { fail("tensor \(rawName): \(message)") }
            guard case .object = value, case let .string(dtype)? = value["dtype"], case let .array(shapeValues)? = value["shape"],
                  case let .array(offsets)? = value["data_offsets"], offsets.count == 2
            else { throw bad("missing dtype/shape/data_offsets") }
            let shape = try shapeValues.map { item -> Int in
                guard case let .int(extent) = item, extent >= 0 else { throw bad("bad shape \(JSONWriter.text(.array(shapeValues)).prefix(80)) (expected integers >= 0)") }
                return extent
            }
            guard case let .int(begin) = offsets[0], case let .int(end) = offsets[1], begin >= 0, begin <= end, end <= bodySize
            else { throw bad("data_offsets \(JSONWriter.text(.array(offsets)).prefix(80)) outside the \(bodySize)-byte body") }
            let elementSize: Int
            switch dtype {
            case "F32", "I32": elementSize = 4
            case "F64", "I64": elementSize = 8
            case "BF16", "F16": elementSize = 2
            default: throw bad("unsupported dtype \(dtype.prefix(20))")
            }
            var count = 1
            for extent in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                if overflow { throw bad("shape \(shape) has more elements than fit in memory") }
                count = product
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: elementSize)
            guard !overflow, end - begin == byteCount else {
                throw bad("\(end - begin) bytes for shape \(shape) of \(dtype)")
            }
            let name = rawName.hasPrefix("_orig_mod.") ? String(rawName.dropFirst("_orig_mod.".count)) : rawName
            guard result.tensors[name] == nil else { throw bad("a second tensor named \(name) (with and without the _orig_mod. prefix)") }
            if byteCount > 0 { spans.append((begin, end, rawName)) }
            let bytes = data.subdata(in: (base + begin)..<(base + end))
            var floats: [Float]? = nil
            var integers: [Int64]? = nil
            bytes.withUnsafeBytes { raw in
                switch dtype {
                case "F32":
                    floats = (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                case "F64":
                    floats = (0..<count).map { Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))) }
                case "BF16":
                    floats = (0..<count).map { Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) << 16) }
                case "F16":
                    floats = (0..<count).map { halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
                case "I32":
                    integers = (0..<count).map { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
                default:  // I64
                    integers = (0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
                }
            }
            result.tensors[name] = SafeTensor(name: name, dtype: dtype, shape: shape, floats: floats, integers: integers)
        }
        spans.sort { $0.begin < $1.begin }
        for k in spans.indices.dropFirst() where spans[k].begin < spans[k - 1].end {
            throw fail("tensors \(spans[k - 1].name) and \(spans[k].name) overlap (data_offsets [\(spans[k - 1].begin), \(spans[k - 1].end)) and [\(spans[k].begin), \(spans[k].end)))")
        }
        return result
    }

    /// Serialises (tensors in name order, F32 / I32) with the metadata.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            let bytes = tensor.count * 4
            header[name] = ["dtype": tensor.floats != nil ? "F32" : "I32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerData.count % 8 != 0 { headerData.append(0x20) }
        var data = Data(capacity: 8 + headerData.count + offset)
        var length = UInt64(headerData.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(headerData)
        for name in names {
            let tensor = tensors[name]!
            if let floats = tensor.floats {
                floats.withUnsafeBufferPointer { buffer in
                    var littleEndian = buffer.map { $0.bitPattern.littleEndian }
                    littleEndian.withUnsafeMutableBytes { data.append(contentsOf: $0) }
                }
            } else if let integers = tensor.integers {
                var values = integers.map { Int32(truncatingIfNeeded: $0).littleEndian }
                values.withUnsafeMutableBytes { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// Writes atomically (temp file in the same directory, fsync, then rename over the target).
    public func write(to url: URL) throws {
        let data = try serialized()
        do { try AtomicFile.write(data, to: url) } catch {
            throw HRMError.safetensors("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }
}

/// IEEE half to Float.
func halfToFloat(_ bits: UInt16) -> Float {
    let sign = UInt32(bits >> 15) << 31
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0 {
        let value = Float(mantissa) * Float(sign == 0 ? 1 : -1) / Float(1 << 24)
        return value
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
}
