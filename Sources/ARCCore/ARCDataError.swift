// Errors for bad ARC input that name the file, task, pair and field (docs/SPEC.md §1 "bad input").

public struct ARCDataError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var task: String?
    /// For example `train[2].output` or `test[0].input`.
    public var field: String?
    public var message: String

    public init(file: String, task: String? = nil, field: String? = nil, message: String) {
        self.file = file
        self.task = task
        self.field = field
        self.message = message
    }

    public var description: String {
        var where_ = file
        if let task { where_ += ": task \(task)" }
        if let field { where_ += ": \(field)" }
        return "\(where_): \(message)"
    }
}
