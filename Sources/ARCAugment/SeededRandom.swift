// Seeded, deterministic random numbers for everything that must reproduce byte for byte
// with a fixed seed (never SystemRandomNumberGenerator there).
//
// - `SplitMix64`: tiny generator, also used to expand seeds.
// - `Xoshiro256StarStar`: the work-horse generator; `init(seed:stream:)` derives independent
//   streams from (seed, stream number), e.g. one per task so parallel work stays deterministic.
// - `nextInt(below:)`, `nextInt(in:)`, `nextUnitDouble()`, `fisherYatesShuffle(using:)`: integer,
//   float and shuffle helpers with a fixed algorithm (the standard library's `random(in:)` and
//   `shuffle(using:)` do not promise a stable algorithm across Swift versions).
// - `StableHash.fnv1a64`: a stable 64-bit string hash for deriving streams from names.

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, full period 2^64.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 output function (a strong 64-bit finaliser).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0 (Blackman, Vigna 2018), seeded through SplitMix64.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    public var state: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the four state words from SplitMix64(seed).
    public init(seed: UInt64) {
        var s = SplitMix64(seed: seed)
        state = (s.next(), s.next(), s.next(), s.next())
    }

    /// An independent stream for (seed, stream): the same pair always gives the same sequence,
    /// different streams are decorrelated by hashing both into the SplitMix64 seed.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: SplitMix64.mix(seed) ^ SplitMix64.mix(stream &+ 0x632B_E59B_D9B4_E019))
    }

    @inlinable
    static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = Xoshiro256StarStar.rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = Xoshiro256StarStar.rotateLeft(state.3, 45)
        return result
    }
}

extension RandomNumberGenerator {
    /// Uniform integer in 0..<bound (Lemire's multiply-and-reject; unbiased). `bound` > 0.
    @inlinable
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        let n = UInt64(bound)
        var product = next().multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n
            while product.low < threshold { product = next().multipliedFullWidth(by: n) }
        }
        return Int(product.high)
    }

    /// Uniform integer in the closed range.
    @inlinable
    public mutating func nextInt(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + nextInt(below: range.upperBound - range.lowerBound + 1)
    }

    /// Uniform double in [0, 1) with 53 random bits.
    @inlinable
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
}

extension MutableCollection where Self: RandomAccessCollection, Index == Int {
    /// Fisher-Yates shuffle from the last element down, with `nextInt(below:)`.
    @inlinable
    public mutating func fisherYatesShuffle(using rng: inout some RandomNumberGenerator) {
        guard count > 1 else { return }
        var i = endIndex - 1
        while i > startIndex {
            let j = startIndex + rng.nextInt(below: i - startIndex + 1)
            if i != j { swapAt(i, j) }
            i -= 1
        }
    }
}

/// Stable (process- and platform-independent) hashes.
public enum StableHash {
    /// FNV-1a 64 of the UTF-8 bytes.
    public static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }
}
