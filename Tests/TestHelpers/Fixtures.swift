// The PyTorch reference's fixtures (Tests/Fixtures, made by Tools/reference/make_fixtures.py):
// loading a file and reading its tensors, failing the test with the tensor's name when one is missing.
import Foundation
import HRM
import XCTest

public enum Fixtures {
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    public static func load(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile.read(directory.appendingPathComponent(name))
    }
}

extension SafeTensorsFile {
    public func floats(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        guard let tensor = tensors[name], let values = tensor.floats else {
            XCTFail("fixture tensor \(name) missing or not floating", file: file, line: line)
            throw HRMError.safetensors("missing \(name)")
        }
        return values
    }
    public func ints(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Int32] {
        guard let tensor = tensors[name], let values = tensor.integers else {
            XCTFail("fixture tensor \(name) missing or not integer", file: file, line: line)
            throw HRMError.safetensors("missing \(name)")
        }
        return values.map { Int32($0) }
    }
    public func shape(_ name: String) -> [Int]? { tensors[name]?.shape }
    public var configJSON: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data((metadata["config"] ?? "{}").utf8))) as? [String: Any] ?? [:]
    }
}
