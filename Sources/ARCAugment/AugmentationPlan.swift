// Augmentation plans with content-hash dedupe (docs/SPEC.md §3): per task, draw (dihedral id,
// colour map fixing 0) up to retriesFactor x numAug times [5 x 1000], keep a draw only if the
// augmented puzzle's content hash -- the sorted hashes of all its (input, output) pairs -- is
// new (the original's hash is in the set from the start), stop at numAug kept.
//
// The content hash is 128 bits (two independent 64-bit lanes over the shape and the cells),
// so distinct puzzles colliding is negligible; the reference uses SHA-256 for the same test.
import ARCCore

/// A 128-bit content hash.
public struct ContentKey: Hashable, Comparable, Sendable {
    public var high: UInt64
    public var low: UInt64
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
    public static func < (a: ContentKey, b: ContentKey) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

public enum ContentHash {
    /// Hash of a rows x cols grid given as row-major cells.
    @inlinable
    public static func grid(cells: UnsafeRawBufferPointer, rows: Int, cols: Int) -> ContentKey {
        var a: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(rows << 8 | cols)
        var b: UInt64 = 0x1319_8A2E_0370_7344 &+ UInt64(rows << 8 | cols) &* 0x9E37_79B9_7F4A_7C15
        let n = cells.count
        var i = 0
        while i + 8 <= n {
            let w = cells.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            a = SplitMix64.mix(a ^ w)
            b = SplitMix64.mix(b &+ w &* 0xD6E8_FEB8_6659_FD93)
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(cells[i]) << shift
                shift += 8
                i += 1
            }
            a = SplitMix64.mix(a ^ w ^ 0xFF00_0000_0000_0000)
            b = SplitMix64.mix(b &+ w &* 0xD6E8_FEB8_6659_FD93 &+ 1)
        }
        return ContentKey(high: SplitMix64.mix(a ^ UInt64(n)), low: SplitMix64.mix(b &+ UInt64(n)))
    }

    public static func grid(_ g: Grid) -> ContentKey {
        g.cells.withUnsafeBytes { grid(cells: $0, rows: g.rows, cols: g.cols) }
    }

    /// Marks a pair whose output is unknown (Kaggle test inputs).
    public static let unknownOutput = ContentKey(high: 0xA5A5_5A5A_0F0F_F0F0, low: 0x1234_5678_9ABC_DEF0)

    @inlinable
    public static func pair(input: ContentKey, output: ContentKey) -> ContentKey {
        ContentKey(high: SplitMix64.mix(input.high ^ (output.high &* 0x9E37_79B9_7F4A_7C15)),
                   low: SplitMix64.mix(input.low &+ (output.low ^ 0xC2B2_AE3D_27D4_EB4F)))
    }

    /// Order-free hash of a puzzle: its pair hashes sorted, then folded.
    public static func puzzle(pairKeys: [ContentKey]) -> ContentKey {
        var a: UInt64 = 0x4528_21E6_38D0_1377, b: UInt64 = 0xBE54_66CF_34E9_0C6C
        for k in pairKeys.sorted() {
            a = SplitMix64.mix(a ^ k.high)
            b = SplitMix64.mix(b &+ k.low)
        }
        return ContentKey(high: a, low: b)
    }

    public static func puzzle(_ pairs: [Pair]) -> ContentKey {
        puzzle(pairKeys: pairs.map { pair(input: grid($0.input), output: $0.output.map(grid) ?? unknownOutput) })
    }
}

public enum AugmentationPlanner {
    public static let referenceRetriesFactor = 5

    /// The group's augmentations: `.identity` first (the original), then up to `count` draws
    /// whose augmented puzzles (all of `pairs`) have distinct content. `rng` advances by
    /// exactly the draws made (one dihedral id and one colour map per draw).
    public static func draw(pairs: [Pair], count: Int, retriesFactor: Int = referenceRetriesFactor,
                            using rng: inout some RandomNumberGenerator) -> [Augmentation] {
        var group = [Augmentation.identity]
        guard count > 0 else { return group }
        var seen: Set<ContentKey> = [ContentHash.puzzle(pairs)]
        var scratch = [UInt8](repeating: 0, count: Grid.maxSide * Grid.maxSide)
        var pairKeys = [ContentKey](repeating: ContentKey(high: 0, low: 0), count: pairs.count)
        func augmentedKey(_ g: Grid, _ id: Int, _ map: UnsafePointer<UInt8>) -> ContentKey {
            scratch.withUnsafeMutableBufferPointer { out in
                g.cells.withUnsafeBufferPointer { src in
                    Dihedral.apply(output: out.baseAddress!, source: src.baseAddress!, map: map, id: id, rows: g.rows, cols: g.cols)
                }
                let (h, w) = Dihedral.shape(id, rows: g.rows, cols: g.cols)
                return ContentHash.grid(cells: UnsafeRawBufferPointer(start: out.baseAddress!, count: h * w), rows: h, cols: w)
            }
        }
        for _ in 0..<(retriesFactor * count) {
            let id = rng.nextInt(below: Dihedral.count)
            let colours = ColourMap.random(using: &rng)
            colours.map.withUnsafeBufferPointer { m in
                for (k, p) in pairs.enumerated() {
                    let input = augmentedKey(p.input, id, m.baseAddress!)
                    let output = p.output.map { augmentedKey($0, id, m.baseAddress!) } ?? ContentHash.unknownOutput
                    pairKeys[k] = ContentHash.pair(input: input, output: output)
                }
            }
            if seen.insert(ContentHash.puzzle(pairKeys: pairKeys)).inserted {
                group.append(Augmentation(dihedral: id, colours: colours))
                if group.count > count { break }
            }
        }
        return group
    }
}
