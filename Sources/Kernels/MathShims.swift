// MathShims: Double libm functions under unambiguous names for generic kernel code.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inlinable @inline(__always) public func doubleLog(_ x: Double) -> Double { log(x) }
@inlinable @inline(__always) public func doubleLog1p(_ x: Double) -> Double { log1p(x) }
@inlinable @inline(__always) public func doubleExp(_ x: Double) -> Double { exp(x) }
