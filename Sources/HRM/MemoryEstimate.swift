// How much memory a model and its batch take, estimated from the configuration before anything is
// allocated, so that `train`, `evaluate` and `train-eval` refuse a configuration this machine cannot
// hold with one line naming the options, instead of being killed by the kernel part way (or trapping
// in an allocation). The count follows what ReasoningModel, its carries and the trainer allocate: the
// parameters and the puzzle-embedding table; per row of the batch the block's scratch and, training,
// the backward's scratch and the activations kept for the 1-step gradient; the logits; the carries;
// the attention workspaces; training adds the gradients, AdamATan2's two moments, a weight average and
// a checkpoint's copy of the optimizer state. Tests compare it with what the tensors really hold.
#if canImport(Glibc)
import Glibc
#endif
import Kernels

public enum MemoryEstimate {
    /// Estimated bytes (Float values, 4 bytes each) of a model of `config` at batch `batchSize`, with
    /// `carries` carries (one per canvas bucket) and `workers` work parts (KernelThreads.parts); `training` adds the
    /// backward and the optimizer. Double: no overflow for any validated configuration.
    public static func bytes(config: HRMConfig, batchSize: Int, training: Bool, carries: Int = 1, workers: Int = KernelThreads.parts) -> Double {
        let dim = Double(config.hiddenSize), inter = Double(config.intermediateSize), heads = Double(config.numHeads)
        let rows = Double(batchSize) * Double(config.totalLength)
        let parameters = Double(ParameterLayout(config: config).totalCount)
        let puzzleTable = (Double(config.numPuzzleIdentifiers) + 1) * Double(max(1, config.puzzleEmbeddingDim))
        let logits = Double(batchSize) * Double(config.seqLen) * Double(config.vocabSize)
        let headDim = Double(config.headDim), length = Double(config.totalLength)
        var values = parameters + puzzleTable
        values += rows * (7 * dim + 3 * inter + 1 + heads)           // the block's scratch (qkv, attention, gate|up, ...)
        values += logits                                              // output logits
        values += 2 * rows * dim * Double(max(1, carries))            // zH and zL per carry
        // Attention workspaces, one per work part: the flash kernel's packed K / V and dK / dV (the sequence
        // padded to whole key tiles) and its score tiles, the blocked kernel's probability blocks.
        values += Double(max(1, workers)) * (6 * (length + 96) * headDim + 48 * (960 + 2 * 96) + 2 * 128 * length)
        if training {
            values += 6 * parameters                                  // gradients, two moments, weight average, checkpoint copies
            values += puzzleTable                                     // sparse sign-SGD's buffers and a checkpoint's copy
            values += rows * (5 * dim + 3 * inter + heads)            // the backward's scratch
            values += Double(config.recordedActivationValues(batch: batchSize))  // kept for the 1-step gradient
            values += logits                                          // logit gradients
            values += 2 * rows * dim                                  // the carry the Q-target step starts from
        }
        return 4 * values
    }

    /// This machine's physical memory in bytes (nil when the system does not say).
    public static var physicalBytes: Double? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return nil }
        return Double(pages) * Double(size)
    }

    /// A configuration the machine cannot hold.
    public struct TooLarge: Error, CustomStringConvertible {
        public let neededBytes: Double
        public let availableBytes: Double
        public let what: String
        public let remedy: String
        public var description: String {
            "\(what) needs about \(gigabytes(neededBytes)) of memory, more than this machine's \(gigabytes(availableBytes)); \(remedy)"
        }
    }

    /// What a new training run can lower.
    public static let trainingRemedy = "lower --batch-size or the model size (--hidden-size, --expansion, layers)"

    /// Throws TooLarge when the estimate exceeds the physical memory (`available`, default this machine's).
    /// `what` names the run in the message, e.g. "training at batch size 768"; `remedy` the options the
    /// user can lower there (a new run's, evaluate's --batch-size, train-eval's --eval-batch-size).
    public static func check(config: HRMConfig, batchSize: Int, training: Bool, carries: Int = 1, what: String,
                             remedy: String = trainingRemedy, available: Double? = physicalBytes) throws {
        guard let available else { return }
        let needed = bytes(config: config, batchSize: batchSize, training: training, carries: carries)
        if needed > available { throw TooLarge(neededBytes: needed, availableBytes: available, what: what, remedy: remedy) }
    }

    static func gigabytes(_ bytes: Double) -> String {
        bytes >= 1e9 ? String(format: "%.1f GB", bytes / 1e9) : String(format: "%.0f MB", bytes / 1e6)
    }
}
