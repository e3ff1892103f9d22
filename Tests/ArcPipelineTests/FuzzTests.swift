// A short, deterministic fuzz pass over the in-process parsers of hostile files: thousands of
// mutations (byte flips, truncation, inserted big numbers, surrogate escapes, deep nesting,
// duplicate keys, invalid UTF-8) of a seed corpus of task JSON, submissions, `.npy` headers and
// safetensors files. Each must parse or throw; a trap kills the test process, which is the
// failure signal. Fixed seed and case counts, so every run feeds the same inputs.
import ARCAugment
import ARCCore
import Foundation
import HRM
import XCTest

/// SplitMix64: a fixed, platform-independent stream for the mutations.
struct FuzzRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}

enum Mutator {
    /// Text that has broken parsers: numbers out of every range, surrogates, nesting, duplicates, bad UTF-8.
    static let insertions: [[UInt8]] = [
        "99999999999999999999999", "4611686018427387904", "18446744073709551616", "-9223372036854775809", "1e400", "-1e400",
        "1e-400", "-0", "0.5", "-1", "NaN", "Infinity", #"\ud800"#, #"\udc00"#, #"\ud800\u0041"#, #"\uDBFF\uDFFF"#, #"\u0000"#,
        #""train":[],"#, #""input":[[1]],"#, #""shape":[4611686018427387904,4],"#, #""data_offsets":[0,99999999999],"#,
        "(4611686018427387904, 4)", "(0, 4611686018427387904, 4611686018427387904)", "'descr': '<i8', ", "'shape': (", "True",
        String(repeating: "[", count: 3000), String(repeating: "{\"a\":", count: 600), String(repeating: "]", count: 50),
        "\"", "\\", ",", ":", "{", "}", "[", "]", "'", "(", ")",
    ].map { Array($0.utf8) } + [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x00], [0x0A], [0xE2, 0x82]]

    /// One to three random mutations of `input`.
    static func mutate(_ input: [UInt8], _ rng: inout FuzzRandom) -> [UInt8] {
        var bytes = input
        for _ in 0...rng.below(3) {
            let at = rng.below(bytes.count + 1)
            switch rng.below(8) {
            case 0 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] = UInt8(truncatingIfNeeded: rng.next())
            case 1: bytes = Array(bytes.prefix(at))
            case 2, 3: bytes.insert(contentsOf: insertions[rng.below(insertions.count)], at: at)
            case 4:  // replace a run of digits by a big number
                if let start = bytes[at...].firstIndex(where: { (0x30...0x39).contains($0) }) {
                    let end = bytes[start...].firstIndex(where: { !(0x30...0x39).contains($0) }) ?? bytes.count
                    bytes.replaceSubrange(start..<end, with: insertions[rng.below(4)])
                }
            case 5:  // duplicate a chunk
                let length = rng.below(min(64, bytes.count - at) + 1)
                bytes.insert(contentsOf: Array(bytes[at..<(at + length)]), at: rng.below(bytes.count + 1))
            case 6:  // delete a chunk
                let length = rng.below(min(32, bytes.count - at) + 1)
                bytes.removeSubrange(at..<(at + length))
            default:
                if !bytes.isEmpty { bytes[min(at, bytes.count - 1)] = Array("\"\\{}[],:0-9eE.u'()".utf8)[rng.below(18)] }
            }
        }
        return bytes
    }
}

final class FuzzTests: XCTestCase {
    static let taskSeeds = [
        #"{"train":[{"input":[[1,2],[3,4]],"output":[[5,6],[7,8]]},{"input":[[0]],"output":[[9]]}],"test":[{"input":[[1,1,1]],"output":[[2]]}]}"#,
        #"{"007bbfd7":{"train":[{"input":[[0,1],[1,0]],"output":[[1]]}],"test":[{"input":[[3]]}]},"a1":{"train":[],"test":[{"input":[[1]]}]}}"#,
        #"{"a1":[{"attempt_1":[[1,2]],"attempt_2":[[3]]}],"b2":[{"attempt_1":[[0]],"attempt_2":[[0]]},{"attempt_1":[[9]],"attempt_2":[[8]]}]}"#,
        "{\n  \"train\": [\n    {\"input\": [[7, 7]], \"output\": [[7], [7]]}\n  ],\n  \"test\": [{\"input\": [[0]]}],\n  \"name\": \"\\u00e9\\ud83d\\ude00\"\n}",
    ]

    func testMutatedTaskJSONParsesOrThrows() {
        var rng = FuzzRandom(state: 0x5EED_0001)
        var parsed = 0, refused = 0
        let start = Date()
        for k in 0..<4000 {
            let input = Mutator.mutate(Array(Self.taskSeeds[k % Self.taskSeeds.count].utf8), &rng)
            let data = Data(input)
            do {
                let json = try JSONParser.parse(data)
                _ = try? TaskLoader.parseTask(json, id: "t", file: "fuzz.json", requireTestOutputs: k % 2 == 0)
                if case let .object(members) = json {
                    for (id, value) in members { _ = try? TaskLoader.parseTask(value, id: id, file: "fuzz.json") }
                }
                _ = try? Submission.decode(data, file: "fuzz.json")
                parsed += 1
            } catch {
                XCTAssertFalse("\(error)".isEmpty)
                refused += 1
            }
        }
        print("fuzz task JSON: \(parsed + refused) cases (\(parsed) parsed, \(refused) refused) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertEqual(parsed + refused, 4000)
        XCTAssertGreaterThan(refused, 0)
    }

    func testMutatedNpyHeadersReadOrThrow() throws {
        let seeds: [[UInt8]] = [
            NpyHeader(dtype: .uint8, shape: [3, 16]).encoded() + [UInt8](repeating: 2, count: 48),
            NpyHeader(dtype: .int32, shape: [4]).encoded() + [0, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0],
            NpyHeader(dtype: .int64, shape: [2]).encoded() + [UInt8](repeating: 0, count: 16),
            NpyHeader(dtype: .uint8, shape: [0, 900]).encoded(minimumLength: 128),
        ]
        // Memory-backed when the system has it: thousands of small writes to a busy disk take seconds.
        var isDirectory: ObjCBool = false
        let memory = FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.isWritableFile(atPath: "/dev/shm")
        let base = memory ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let dir = base.appendingPathComponent("arc-fuzz-npy-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = FuzzRandom(state: 0x5EED_0002)
        var opened = 0, refused = 0
        let start = Date()
        for k in 0..<2500 {
            var bytes = Mutator.mutate(seeds[k % seeds.count], &rng)
            // Keep the header length field consistent in most cases so the dict parser is reached.
            if bytes.count >= 10, rng.below(4) != 0, let newline = bytes.firstIndex(of: 0x0A), newline >= 10, bytes[6] == 1 {
                let length = newline + 1 - 10
                bytes[8] = UInt8(length & 0xFF)
                bytes[9] = UInt8((length >> 8) & 0xFF)
            }
            // In memory: the header parser alone.
            _ = bytes.withUnsafeBytes { try? NpyHeader.parse($0, file: "fuzz.npy") }
            // On disk: the reader with its size check, and the values.
            let url = dir.appendingPathComponent("f\(k % 8).npy")
            try Data(bytes).write(to: url)
            do {
                let file = try NpyFile(contentsOf: url)
                _ = try? file.int32Values()
                if file.dtype == .uint8, file.shape.count == 2, file.rowCount > 0 { _ = file.uint8Row(file.rowCount - 1).reduce(0, &+) }
                opened += 1
            } catch {
                refused += 1
            }
        }
        print("fuzz .npy: \(opened + refused) cases (\(opened) opened, \(refused) refused) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertEqual(opened + refused, 2500)
        XCTAssertGreaterThan(refused, 0)
    }

    func testMutatedSafeTensorsReadOrThrow() throws {
        let config = HRMConfig(hiddenSize: 8, numHeads: 2, expansion: 1, hLayers: 1, lLayers: 1, haltMaxSteps: 2, numPuzzleIdentifiers: 2, seqLen: 4)
        let model = HRMModel<Float>(config: config, maxBatch: 1)
        model.parameters.initialize(seed: 1)
        let configText = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        let full = [UInt8](try SafeTensorsFile(tensors: model.stateTensors(), metadata: ["config": configText, "step": "3"]).serialized())
        let small = [UInt8](try SafeTensorsFile(tensors: ["a": SafeTensor(name: "a", shape: [2, 2], floats: [1, 2, 3, 4]),
                                                          "b": SafeTensor(name: "b", shape: [3], int32: [1, 2, 3])], metadata: ["k": "v"]).serialized())
        var rng = FuzzRandom(state: 0x5EED_0003)
        var parsed = 0, refused = 0
        let start = Date()
        for k in 0..<2000 {
            let seed = k % 4 == 0 ? full : small
            let headerLength = Int(seed[0]) | Int(seed[1]) << 8 | Int(seed[2]) << 16
            var header = Array(seed[8..<(8 + headerLength)]), body = Array(seed[(8 + headerLength)...])
            var prefix = Array(seed[0..<8])
            switch rng.below(10) {
            case 0: prefix = Mutator.mutate(prefix, &rng)
            case 1: body = Mutator.mutate(body, &rng)
            default: header = Mutator.mutate(header, &rng)
            }
            if rng.below(5) != 0 {  // a consistent length field, so the JSON and the tensors are reached
                prefix = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init)
            }
            let data = Data(prefix + header + body)
            do {
                let file = try SafeTensorsFile.parse(data, source: "fuzz.safetensors")
                if let stored = try? HRMModel<Float>.storedConfig(in: file, source: "fuzz.safetensors"), stored == config {
                    _ = try? HRMModel<Float>(config: config, maxBatch: 1).load(from: file, source: "fuzz.safetensors")
                }
                parsed += 1
            } catch {
                refused += 1
            }
        }
        print("fuzz safetensors: \(parsed + refused) cases (\(parsed) parsed, \(refused) refused) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertEqual(parsed + refused, 2000)
        XCTAssertGreaterThan(refused, 0)
    }
}
