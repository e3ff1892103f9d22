// Fixtures for the fetch cases: a data mirror folder in a sandbox, holding an archive written
// here as a plain POSIX ustar tar (hostile members included: symbolic and hard links, FIFOs)
// and a SHA256SUMS file whose digests are computed here with a small SHA-256 (FIPS 180-4),
// so the test target needs neither libarchive nor libcrypto.
import Foundation

enum MirrorFixtures {
    enum TarMember {
        case file(String, Data)
        case directory(String)
        case symbolicLink(String, target: String)
        case hardLink(String, target: String)
        case fifo(String)
    }

    /// A POSIX ustar archive of `members` (names and link targets up to 100 bytes).
    static func tar(_ members: [TarMember]) -> Data {
        var archive = Data()
        for member in members {
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, at offset: Int, length: Int) {
                let bytes = Array(text.utf8).prefix(length)
                header.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
            }
            func octal(_ value: Int, at offset: Int, length: Int) {
                put(String(value, radix: 8).leftPadded(to: length - 1), at: offset, length: length - 1)
            }
            let name: String, type: String, link: String, body: Data
            switch member {
            case let .file(path, data): (name, type, link, body) = (path, "0", "", data)
            case let .directory(path): (name, type, link, body) = (path, "5", "", Data())
            case let .symbolicLink(path, target): (name, type, link, body) = (path, "2", target, Data())
            case let .hardLink(path, target): (name, type, link, body) = (path, "1", target, Data())
            case let .fifo(path): (name, type, link, body) = (path, "6", "", Data())
            }
            put(name, at: 0, length: 100)
            octal(type == "5" ? 0o755 : 0o644, at: 100, length: 8)
            octal(0, at: 108, length: 8)
            octal(0, at: 116, length: 8)
            octal(body.count, at: 124, length: 12)
            octal(1_700_000_000, at: 136, length: 12)
            put(type, at: 156, length: 1)
            put(link, at: 157, length: 100)
            put("ustar\0", at: 257, length: 6)
            put("00", at: 263, length: 2)
            put("root", at: 265, length: 32)
            put("root", at: 297, length: 32)
            // The checksum is the byte sum with its own field counted as spaces.
            header.replaceSubrange(148..<156, with: [UInt8](repeating: 0x20, count: 8))
            let sum = header.reduce(0) { $0 + Int($1) }
            put(String(sum, radix: 8).leftPadded(to: 6) + "\0 ", at: 148, length: 8)
            archive.append(contentsOf: header)
            archive.append(body)
            archive.append(Data(count: (512 - body.count % 512) % 512))
        }
        archive.append(Data(count: 1024))
        return archive
    }

    /// A valid one-task file.
    static let taskJSON = Data(#"{"train":[{"input":[[1,2],[3,4]],"output":[[4,3],[2,1]]}],"test":[{"input":[[5]],"output":[[6]]}]}"#.utf8)

    /// The members of a good `ARC-AGI-master.zip`: one training and one evaluation task.
    static let goodARC1Members: [TarMember] = [
        .file("ARC-AGI-master/data/training/0a1b2c3d.json", taskJSON),
        .file("ARC-AGI-master/data/evaluation/4e5f6a7b.json", taskJSON),
    ]

    /// A previous good copy of `arc-agi-1` under `dataDirectory` (relative to `root`), from
    /// another location, so that the next fetch replaces it.
    static func writePreviousCopy(in root: URL, dataDirectory: String) throws {
        try root.write(String(decoding: taskJSON, as: UTF8.self), to: "\(dataDirectory)/arc-agi-1/training/00000001.json")
        try root.write(String(decoding: taskJSON, as: UTF8.self), to: "\(dataDirectory)/arc-agi-1/evaluation/00000002.json")
        try root.write("""
        {
          "source": "arc-agi-1",
          "url": "https://example.invalid/earlier/ARC-AGI-master.zip",
          "sha256": "\(String(repeating: "0", count: 64))",
          "bytes": 1,
          "fetched_at": "2025-01-01T00:00:00Z",
          "splits": [
            {"name": "training", "tasks": 1, "test_inputs": 1, "with_solutions": true},
            {"name": "evaluation", "tasks": 1, "test_inputs": 1, "with_solutions": true}
          ]
        }

        """, to: "\(dataDirectory)/arc-agi-1/manifest.json")
    }

    /// How the mirror's SHA256SUMS looks.
    enum Sums {
        /// The right digest of every archive.
        case correct
        /// No SHA256SUMS file at all.
        case none
        /// This exact content.
        case text(Data)
    }

    /// Writes `archives` (file name -> bytes) and their SHA256SUMS into `folder` under `root`.
    static func writeMirror(in root: URL, folder: String = "mirror", archives: [String: Data], sums: Sums = .correct) throws {
        let mirror = root.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: mirror, withIntermediateDirectories: true)
        for (name, data) in archives { try data.write(to: mirror.appendingPathComponent(name)) }
        switch sums {
        case .correct:
            let lines = archives.keys.sorted().map { "\(sha256Hex(archives[$0]!))  \($0)\n" }.joined()
            try Data(lines.utf8).write(to: mirror.appendingPathComponent("SHA256SUMS"))
        case .none:
            break
        case let .text(data):
            try data.write(to: mirror.appendingPathComponent("SHA256SUMS"))
        }
    }

    /// Lower-case hex SHA-256 of `data` (FIPS 180-4).
    static func sha256Hex(_ data: Data) -> String {
        let k: [UInt32] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
        ]
        var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var message = [UInt8](data)
        let bitLength = UInt64(message.count) &* 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        func rotate(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for block in stride(from: 0, to: message.count, by: 64) {
            for i in 0..<16 {
                w[i] = message[block + 4 * i..<block + 4 * i + 4].reduce(0) { ($0 << 8) | UInt32($1) }
            }
            for i in 16..<64 {
                let s0 = rotate(w[i - 15], 7) ^ rotate(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotate(w[i - 2], 17) ^ rotate(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
            for i in 0..<64 {
                let t1 = h &+ (rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let t2 = (rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, v) in [a, b, c, d, e, f, g, h].enumerated() { state[i] = state[i] &+ v }
        }
        return state.map { String($0, radix: 16).leftPadded(to: 8, with: "0") }.joined()
    }
}

private extension String {
    func leftPadded(to length: Int, with pad: Character = "0") -> String {
        count >= length ? self : String(repeating: pad, count: length - count) + self
    }
}
