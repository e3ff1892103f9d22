// The named model-and-trainer presets (`--preset`): one list for the model shapes here and the
// trainer hyperparameters (Training's TrainerOptions.preset(_:)).
public enum ModelPreset: String, CaseIterable, Sendable, CustomStringConvertible {
    /// A small model for minutes-long CPU runs on 2 cores.
    case cpu
    /// The reference's model (docs/SPEC.md §4, 27M parameters).
    case paper
    /// The benchmark configuration (BENCHMARKS.md).
    case cpuBench = "cpu-bench"

    public var description: String { rawValue }

    /// The model configuration of the preset (dataset sizes still to be set).
    public var config: HRMConfig {
        switch self {
        case .cpu: return .cpu
        case .paper: return .paper
        case .cpuBench: return .cpuBench
        }
    }
}
