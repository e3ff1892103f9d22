// Random: a seeded SplitMix64 generator and the JAX-style truncated normal used for initialisation
// (docs/SPEC.md §4: cut at +-2 sigma, std corrected so the truncated distribution has the asked std).
#if canImport(Glibc)
import Glibc
#endif

public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * (1.0 / 9007199254740992.0) }

    /// Standard normal (Box-Muller).
    public mutating func nextNormal() -> Double {
        var u1 = nextUnit()
        while u1 <= 0 { u1 = nextUnit() }
        let u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

public enum TruncatedNormal {
    /// The std of a standard normal truncated to [lower, upper].
    public static func truncatedStd(lower: Double = -2, upper: Double = 2) -> Double {
        let sqrt2 = 2.0.squareRoot()
        let a = erf(lower / sqrt2), b = erf(upper / sqrt2)
        let z = (b - a) / 2
        let c = 1 / (2 * Double.pi).squareRoot()
        let pdfU = c * exp(-0.5 * lower * lower)
        let pdfL = c * exp(-0.5 * upper * upper)
        return (1 - (upper * pdfU - lower * pdfL) / z - ((pdfU - pdfL) / z) * ((pdfU - pdfL) / z)).squareRoot()
    }

    /// Fills `count` values with a normal truncated at +-2 (in units of the corrected std) whose
    /// actual std is `std` (JAX / the reference's trunc_normal_init_).
    public static func fill<T: KernelScalar>(
        _ destination: UnsafeMutablePointer<T>, count: Int, std: Double, generator: inout SplitMix64
    ) {
        if std == 0 {
            for index in 0..<count { destination[index] = 0 }
            return
        }
        let corrected = std / truncatedStd()
        for index in 0..<count {
            var z = generator.nextNormal()
            while abs(z) > 2 { z = generator.nextNormal() }
            destination[index] = T(z * corrected)
        }
    }
}
