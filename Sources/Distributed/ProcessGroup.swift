// The processes of one data-parallel run: a single process (no MPI at all), or the ranks an MPI
// launcher (mpirun/mpiexec) started, talking through Open MPI loaded at run time (CMPI: dlopen of
// libmpi.so.40, so the binary never links MPI and runs where it is missing). Every collective
// below is a no-op or the identity for a single process, and every rank must call the same
// collectives in the same order. Counts are checked against MPI's 32-bit int before any call.
import CMPI
import Foundation

public enum DistributedError: Error, CustomStringConvertible {
    /// More than one rank was requested but MPI cannot be used.
    case unavailable(String)
    /// An MPI call failed (a peer rank died, the network broke).
    case communication(String)
    public var description: String {
        switch self {
        case let .unavailable(m), let .communication(m): return m
        }
    }
}

/// Element types the collectives move.
public protocol CollectiveElement { static var collectiveType: Int32 { get } }
extension Float: CollectiveElement { public static var collectiveType: Int32 { Int32(ARC_MPI_FLOAT.rawValue) } }
extension Int32: CollectiveElement { public static var collectiveType: Int32 { Int32(ARC_MPI_INT32.rawValue) } }
extension UInt8: CollectiveElement { public static var collectiveType: Int32 { Int32(ARC_MPI_BYTE.rawValue) } }
extension Double: CollectiveElement { public static var collectiveType: Int32 { Int32(ARC_MPI_DOUBLE.rawValue) } }

public final class ProcessGroup: @unchecked Sendable {
    /// This process's rank, 0..<size; rank 0 writes every file and prints progress.
    public let rank: Int
    public let size: Int
    let usesMPI: Bool
    /// Scratch of the fixed-order sum (kept between calls: a training step allocates nothing here).
    private var sendScratch: [Float] = [], receiveScratch: [Float] = [], chunkScratch: [Float] = []

    init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    /// One process, no MPI.
    public static let single = ProcessGroup(rank: 0, size: 1, usesMPI: false)
    /// The group this program runs in (set once by `ProcessGroup.start` in main).
    nonisolated(unsafe) public internal(set) static var world = single

    public var isRoot: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }
    /// "rank 1 of 2", for messages.
    public var name: String { "rank \(rank) of \(size)" }

    // MARK: - Calls

    func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        arc_mpi_error_string(code, &text, text.count)
        throw DistributedError.communication("\(name): \(call) failed: \(String(cString: text)) (did another rank stop?)")
    }

    static func count32(_ n: Int, _ what: String) throws -> Int32 {
        guard let c = Int32(exactly: n) else {
            throw DistributedError.communication("\(what): \(n) elements exceed MPI's limit of \(Int32.max) per call")
        }
        return c
    }

    /// Waits until every rank got here.
    public func barrier() throws {
        guard usesMPI else { return }
        try check(arc_mpi_barrier(), "MPI_Barrier")
    }

    /// Rank 0's `count` values at `buffer` on every rank.
    public func broadcast<T: CollectiveElement>(_ buffer: UnsafeMutablePointer<T>, count: Int) throws {
        guard usesMPI, count > 0 else { return }
        try check(arc_mpi_bcast(buffer, try Self.count32(count, "broadcast"), T.collectiveType, 0), "MPI_Bcast")
    }

    /// Rank 0's bytes on every rank (the other ranks' `data` is ignored).
    public func broadcast(_ data: Data) throws -> Data {
        guard usesMPI else { return data }
        var length = [Double(isRoot ? data.count : 0)]
        try broadcast(&length, count: 1)
        guard let n = Int(exactly: length[0]), n >= 0 else { throw DistributedError.communication("\(name): broadcast of a bad length") }
        var bytes = isRoot ? [UInt8](data) : [UInt8](repeating: 0, count: n)
        try broadcast(&bytes, count: n)
        return Data(bytes)
    }

    /// Rank 0's value on every rank.
    public func broadcast(_ value: Int) throws -> Int {
        guard usesMPI else { return value }
        var v = [Double(value)]
        try broadcast(&v, count: 1)
        return Int(v[0])
    }

    /// Rank 0's answer on every rank.
    public func rootDecides(_ value: Bool) throws -> Bool {
        try broadcast(value ? 1 : 0) == 1
    }

    /// Rank 0's value on every rank (exact for |value| < 2^53).
    public func rootValue(_ value: Double) throws -> Double {
        guard usesMPI else { return value }
        var v = [value]
        try broadcast(&v, count: 1)
        return v[0]
    }

    /// The largest of every rank's value.
    public func maximum(_ value: Int) throws -> Int {
        guard usesMPI else { return value }
        var v = [Int32(clamping: value)]
        try check(arc_mpi_allreduce(&v, 1, Int32.collectiveType, 1), "MPI_Allreduce(max)")
        return Int(v[0])
    }

    /// Element-wise sums over the ranks, in place (bookkeeping values: metrics, counts).
    public func sum(_ values: inout [Double]) throws {
        guard usesMPI, !values.isEmpty else { return }
        let n = try Self.count32(values.count, "sum")
        try values.withUnsafeMutableBufferPointer { try check(arc_mpi_allreduce($0.baseAddress!, n, Double.collectiveType, 0), "MPI_Allreduce(sum)") }
    }

    /// Element-wise sum over the ranks of `count` floats, in place, added in rank order 0, 1, ...
    /// whatever the timing or the MPI library's algorithm: the vector is cut into one chunk per
    /// rank, MPI_Alltoall gives each rank every rank's copy of its chunk, the rank adds them in
    /// rank order, and MPI_Allgather returns the summed chunks to everyone. Each rank sends and
    /// receives (size-1)/size of the vector twice: the bandwidth of a ring all-reduce.
    public func sumInRankOrder(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard usesMPI, count > 0 else { return }
        let chunk = (count + size - 1) / size
        let padded = chunk * size
        _ = try Self.count32(padded, "gradient sum")
        if sendScratch.count != padded {
            sendScratch = [Float](repeating: 0, count: padded)
            receiveScratch = sendScratch
            chunkScratch = [Float](repeating: 0, count: chunk)
        }
        let c = Int32(chunk)
        try sendScratch.withUnsafeMutableBufferPointer { send in
            try receiveScratch.withUnsafeMutableBufferPointer { receive in
                try chunkScratch.withUnsafeMutableBufferPointer { mine in
                    send.baseAddress!.update(from: buffer, count: count)
                    try check(arc_mpi_alltoall(send.baseAddress!, receive.baseAddress!, c, Float.collectiveType), "MPI_Alltoall")
                    // receive = [rank 0's copy of my chunk, rank 1's, ...]: add them in that order.
                    let r = receive.baseAddress!, m = mine.baseAddress!
                    m.update(from: r, count: chunk)
                    for source in 1..<size {
                        let part = r + source * chunk
                        for k in 0..<chunk { m[k] += part[k] }
                    }
                    try check(arc_mpi_allgather(m, send.baseAddress!, c, Float.collectiveType), "MPI_Allgather")
                    buffer.update(from: send.baseAddress!, count: count)
                }
            }
        }
    }

    /// Every rank's values, concatenated in rank order, on every rank (counts may differ).
    public func allGather<T: CollectiveElement>(_ values: [T]) throws -> [T] {
        guard usesMPI else { return values }
        let counts = try countsOfEveryRank(values.count)
        let (displacements, total) = try Self.displacements(counts)
        var result = [T](unsafeUninitializedCapacity: total) { _, initialized in initialized = total }
        let n = Int32(values.count)
        try values.withUnsafeBufferPointer { v in
            try result.withUnsafeMutableBufferPointer { r in
                try check(arc_mpi_allgatherv(v.baseAddress, n, r.baseAddress, counts, displacements, T.collectiveType), "MPI_Allgatherv")
            }
        }
        return result
    }

    /// Every rank's values in rank order on rank 0 (nil on the other ranks).
    public func gatherToRoot<T: CollectiveElement>(_ values: [T]) throws -> [[T]]? {
        guard usesMPI else { return [values] }
        let counts = try countsOfEveryRank(values.count)
        let (displacements, total) = try Self.displacements(counts)
        var result = [T](unsafeUninitializedCapacity: isRoot ? total : 0) { _, initialized in initialized = isRoot ? total : 0 }
        let n = Int32(values.count)
        try values.withUnsafeBufferPointer { v in
            try result.withUnsafeMutableBufferPointer { r in
                try check(arc_mpi_gatherv(v.baseAddress, n, r.baseAddress, counts, displacements, T.collectiveType, 0), "MPI_Gatherv")
            }
        }
        guard isRoot else { return nil }
        return (0..<size).map { Array(result[Int(displacements[$0])..<Int(displacements[$0] + counts[$0])]) }
    }

    func countsOfEveryRank(_ count: Int) throws -> [Int32] {
        let mine = try Self.count32(count, "gather")
        var counts = [Int32](repeating: 0, count: size)
        try counts.withUnsafeMutableBufferPointer { c in
            var m = mine
            try check(arc_mpi_allgather(&m, c.baseAddress!, 1, Int32.collectiveType), "MPI_Allgather(counts)")
        }
        return counts
    }

    static func displacements(_ counts: [Int32]) throws -> ([Int32], Int) {
        var displacements = [Int32](), total = 0
        for c in counts {
            displacements.append(try count32(total, "gather"))
            total += Int(c)
        }
        _ = try count32(total, "gather")
        return (displacements, total)
    }
}
