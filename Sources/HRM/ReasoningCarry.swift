// ReasoningCarry: the recurrent state (zH, zL) of HRM and TRM per batch slot (docs/SPEC.md §5, §9;
// in TRM's naming zH is the answer y and zL the latent z), on the full sequence or a size-bucketed
// crop of the position canvas. `HRMCarry` is the same type.
import Kernels

/// HRM's name for the carry (the type is shared with TRM).
public typealias HRMCarry<T: KernelScalar> = ReasoningCarry<T>

/// The recurrent state (zH, zL) per batch slot, [batch, P + tokensPerExample, D] each.
/// `side == nil`: the full sequence (config.seqLen tokens at positions P + t). `side == s`: the
/// top-left s x s crop of the W x W position canvas (config.seqLen == W * W): grid token t is the
/// canvas cell (t / s, t % s) at position P + (t / s) * W + t % s; puzzle tokens keep 0 ..< P.
public final class ReasoningCarry<T: KernelScalar>: @unchecked Sendable {
    public let zH: Tensor<T>
    public let zL: Tensor<T>
    public let batch: Int
    public let rowsPerSlot: Int
    public let dim: Int
    /// nil = the full canvas; s = the s x s crop.
    public let side: Int?
    /// Grid tokens per example: config.seqLen, or side * side.
    public let tokensPerExample: Int
    public let puzzleTokens: Int

    /// Throws (naming the side and its allowed range) unless `side` is nil, or config.seqLen is W * W
    /// and 1 <= side <= W. Call it before `init(config:batch:side:)` with a side from data.
    public static func validateSide(_ side: Int?, config: HRMConfig) throws {
        guard let side else { return }
        guard let width = config.canvasWidth else {
            throw HRMError.invalidConfig("side \(side) needs seqLen to be a square W*W (the position canvas); seqLen is \(config.seqLen)")
        }
        if !(1...width).contains(side) {
            throw HRMError.invalidConfig("side is \(side), expected 1...\(width) (the canvas is \(width)x\(width), seqLen \(config.seqLen))")
        }
    }

    /// RoPE position of every row of a slot (P puzzle tokens, then the grid tokens) for `side`;
    /// nil for side nil (rows at 0 ..< S). `side` must pass validateSide.
    public static func positions(side: Int?, config: HRMConfig) -> [Int32]? {
        guard let side, let width = config.canvasWidth else { return nil }
        let p = config.puzzleTokens
        var positions = (0..<p).map { Int32($0) }
        positions.reserveCapacity(p + side * side)
        for t in 0..<(side * side) { positions.append(Int32(p + (t / side) * width + t % side)) }
        return positions
    }

    /// A carry of `batch` slots (zeros; reset before use). A side that fails validateSide is a
    /// programming error here (validate data-driven sides first).
    public init(config: HRMConfig, batch: Int, side: Int? = nil) {
        do { try Self.validateSide(side, config: config) } catch {
            preconditionFailure("ReasoningCarry: \(error) (call validateSide first)")
        }
        self.batch = batch
        self.side = side
        tokensPerExample = side.map { $0 * $0 } ?? config.seqLen
        puzzleTokens = config.puzzleTokens
        rowsPerSlot = config.puzzleTokens + tokensPerExample
        dim = config.hiddenSize
        zH = Tensor(shape: [batch, rowsPerSlot, config.hiddenSize])
        zL = Tensor(shape: [batch, rowsPerSlot, config.hiddenSize])
    }

    /// Slot gets zH = H_init, zL = L_init broadcast over positions (docs/SPEC.md §5 reset).
    public func reset(slot: Int, model: ReasoningModel<T>) {
        precondition(slot >= 0 && slot < batch, "ReasoningCarry.reset: slot \(slot) outside 0..<\(batch)")
        let hInit = model.parameters.pointer(ParameterLayout.prefix + "H_init")
        let lInit = model.parameters.pointer(ParameterLayout.prefix + "L_init")
        for row in 0..<rowsPerSlot {
            (zH.pointer + (slot * rowsPerSlot + row) * dim).update(from: hInit, count: dim)
            (zL.pointer + (slot * rowsPerSlot + row) * dim).update(from: lInit, count: dim)
        }
    }

    public func resetAll(model: ReasoningModel<T>) {
        for slot in 0..<batch { reset(slot: slot, model: model) }
    }

    /// Copies another carry of the same shape (the ACT trainer's Q-target probe).
    public func copy(from source: ReasoningCarry<T>) {
        precondition(source.zH.count == zH.count, "ReasoningCarry.copy: \(source.zH.count) values per state, expected \(zH.count)")
        zH.copy(from: source.zH)
        zL.copy(from: source.zL)
    }
}
