// The two recursive architectures one HRMConfig can describe (docs/SPEC.md §4 and §9): HRM, two
// modules H and L with the 1-step gradient, and TRM, one network for both states differentiated
// through its whole last cycle. `--arch hrm|trm` on the command line.
public enum ModelArchitecture: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    case hrm
    case trm

    public var description: String { rawValue }
}
