// How much memory a model and its batch take, estimated from the configuration before anything is
// allocated, so that `train`, `evaluate` and `train-eval` refuse a configuration this machine cannot
// hold with one line naming the options, instead of being killed by the kernel part way (or trapping
// in an allocation). The count follows what ReasoningModel, its carries and the trainer allocate: the
// parameters and the puzzle-embedding table; per row of the batch the block's scratch and, training,
// the backward's scratch and the activations kept for the 1-step gradient; the logits; the carries;
// the attention workspaces; training adds the gradients, AdamATan2's two moments, a weight average and
// a checkpoint's copy of the optimizer state. Tests compare it with what the tensors really hold.
import Foundation
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

    /// The memory this process may use, in bytes: the least of the physical memory, a container's limit
    /// (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`) and ARC_MEMORY_BYTES when it is set to a
    /// positive number (to state a smaller budget; the tests use it). Nil when none of them says.
    public static var physicalBytes: Double? {
        var limits: [Double] = []
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0, size > 0 { limits.append(Double(pages) * Double(size)) }
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let limit = numberInFile(file) { limits.append(limit) }
        }
        if let text = getenv("ARC_MEMORY_BYTES").map({ String(cString: $0) }), let stated = Double(text), stated.isFinite, stated > 0 {
            limits.append(stated)
        }
        return limits.min()
    }

    /// The positive number a small system file holds ("max" and unreadable files give nil; a cgroup v1
    /// "no limit" is a number near 2^63, left out above 2^60).
    static func numberInFile(_ path: String) -> Double? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let text = String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = Double(text), value > 0, value < 0x1p60 else { return nil }
        return value
    }

    /// A configuration the machine cannot hold.
    public struct TooLarge: Error, CustomStringConvertible {
        public let neededBytes: Double
        public let availableBytes: Double
        public let what: String
        public let remedy: String
        public var description: String {
            "\(what) needs about \(gigabytes(neededBytes)) of memory, more than the \(gigabytes(availableBytes)) this machine has for it; \(remedy)"
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
