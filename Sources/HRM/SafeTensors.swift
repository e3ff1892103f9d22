// SafeTensors: read and write the safetensors format (u64 little-endian header length, JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, raw little-endian data).
// Loads F32, F64, BF16, F16 (as Float) and I32, I64 (as Int64); writes F32 and I32. Names with a
// torch.compile `_orig_mod.` prefix are stripped on load (HRM-SPEC §4). Writes go through a temp
// file + rename.
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

    /// Reads a file; errors name the file and the offending tensor or field.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw HRMError.safetensors("\(url.path): cannot read (\(error))") }
        return try parse(data, source: url.path)
    }

    public static func parse(_ data: Data, source: String) throws -> SafeTensorsFile {
        func fail(_ message: String) -> HRMError { .safetensors("\(source): \(message)") }
        guard data.count >= 8 else { throw fail("shorter than the 8-byte header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(data.count - 8) else { throw fail("header length \(headerLength) exceeds file size \(data.count)") }
        let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(headerLength)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let base = data.startIndex + 8 + Int(headerLength)
        let bodySize = data.count - 8 - Int(headerLength)
        var result = SafeTensorsFile()
        if let metadata = header["__metadata__"] {
            guard let strings = metadata as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
            result.metadata = strings
        }
        for (rawName, value) in header where rawName != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeValues = info["shape"] as? [Any], let offsets = info["data_offsets"] as? [Any], offsets.count == 2
            else { throw fail("tensor \(rawName): missing dtype/shape/data_offsets") }
            let shape = try shapeValues.map { item -> Int in
                guard let number = item as? NSNumber, number.intValue >= 0 else { throw fail("tensor \(rawName): bad shape \(shapeValues)") }
                return number.intValue
            }
            guard let begin = (offsets[0] as? NSNumber)?.intValue, let end = (offsets[1] as? NSNumber)?.intValue,
                  begin >= 0, begin <= end, end <= bodySize
            else { throw fail("tensor \(rawName): data_offsets \(offsets) outside the \(bodySize)-byte body") }
            let count = shape.reduce(1, *)
            let elementSize: Int
            switch dtype {
            case "F32", "I32": elementSize = 4
            case "F64", "I64": elementSize = 8
            case "BF16", "F16": elementSize = 2
            default: throw fail("tensor \(rawName): unsupported dtype \(dtype)")
            }
            guard end - begin == count * elementSize else {
                throw fail("tensor \(rawName): \(end - begin) bytes for shape \(shape) of \(dtype)")
            }
            let name = rawName.hasPrefix("_orig_mod.") ? String(rawName.dropFirst("_orig_mod.".count)) : rawName
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

    /// Writes atomically (temp file in the same directory, then rename).
    public func write(to url: URL) throws {
        let data = try serialized()
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try data.write(to: temporary)
            if FileManager.default.fileExists(atPath: url.path) { _ = try FileManager.default.replaceItemAt(url, withItemAt: temporary) }
            else { try FileManager.default.moveItem(at: temporary, to: url) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw HRMError.safetensors("\(url.path): cannot write (\(error))")
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
