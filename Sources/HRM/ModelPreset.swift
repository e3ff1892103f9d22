// The named model-and-trainer presets (`--preset`): one list for the model shapes here and the
// trainer hyperparameters (Training's TrainerOptions.preset(_:)). Each preset has a shape per
// architecture (`--arch hrm|trm`): `paper` is each paper's published model.
public enum ModelPreset: String, CaseIterable, Sendable, CustomStringConvertible {
    /// A small model for minutes-long CPU runs on 2 cores.
    case cpu
    /// The reference's model (docs/SPEC.md §4: HRM's 27M parameters; §9: TRM's 7M).
    case paper
    /// The benchmark configuration (BENCHMARKS.md).
    case cpuBench = "cpu-bench"

    public var description: String { rawValue }

    /// The model configuration of the preset for `architecture` (dataset sizes still to be set).
    public func config(for architecture: ModelArchitecture) -> HRMConfig {
        switch (self, architecture) {
        case (.cpu, .hrm): return .cpu
        case (.paper, .hrm): return .paper
        case (.cpuBench, .hrm): return .cpuBench
        case (.cpu, .trm): return .trmCPU
        case (.paper, .trm): return .trmPaper
        case (.cpuBench, .trm): return .trmCPUBench
        }
    }

    /// The HRM configuration of the preset.
    public var config: HRMConfig { config(for: .hrm) }
}
