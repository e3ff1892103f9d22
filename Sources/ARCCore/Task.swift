// ARC tasks: demonstration (`train`) and `test` pairs (docs/SPEC.md §1), and named task sets.

public struct Pair: Hashable, Sendable {
    public var input: Grid
    /// Nil for test inputs whose solution is unknown (Kaggle test challenges).
    public var output: Grid?
    public init(input: Grid, output: Grid?) {
        self.input = input
        self.output = output
    }
}

public struct ARCTask: Hashable, Sendable {
    public var id: String
    public var train: [Pair]
    public var test: [Pair]
    public init(id: String, train: [Pair], test: [Pair]) {
        self.id = id
        self.train = train
        self.test = test
    }
    /// True when every test pair has a known output.
    public var hasSolutions: Bool { test.allSatisfy { $0.output != nil } }
}

/// A named collection of tasks (for example `arc-agi-1:evaluation`), in a stable order.
public struct TaskSet: Sendable {
    public var name: String
    public var tasks: [ARCTask]
    public init(name: String, tasks: [ARCTask]) {
        self.name = name
        self.tasks = tasks
    }
    public var testInputCount: Int { tasks.reduce(0) { $0 + $1.test.count } }
    public func task(id: String) -> ARCTask? { tasks.first { $0.id == id } }
}
