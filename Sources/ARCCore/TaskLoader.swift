// Loaders for ARC data (docs/SPEC.md §1): a folder of per-task JSON files (nested concept
// folders included) and the Kaggle combined layout (challenges + optional solutions).
import Foundation

public enum TaskLoader {
    /// Parses one task object. `file` and `id` are used in errors.
    public static func parseTask(_ json: JSONValue, id: String, file: String, requireTestOutputs: Bool = false) throws -> ARCTask {
        func fail(_ field: String?, _ message: String) -> ARCDataError {
            ARCDataError(file: file, task: id, field: field, message: message)
        }
        guard case .object = json else { throw fail(nil, "task is \(json.kindName), expected an object with \"train\" and \"test\"") }
        func pairs(_ key: String, outputRequired: Bool) throws -> [Pair] {
            guard let value = json[key] else { throw fail(nil, "missing key \"\(key)\"") }
            guard case let .array(items) = value else { throw fail(key, "is \(value.kindName), expected an array of pairs") }
            var result = [Pair]()
            for (k, item) in items.enumerated() {
                let here = "\(key)[\(k)]"
                guard case .object = item else { throw fail(here, "is \(item.kindName), expected an object") }
                guard let inputValue = item["input"] else { throw fail(here, "missing key \"input\"") }
                let input: Grid
                do { input = try Grid(json: inputValue) } catch { throw fail("\(here).input", error.description) }
                var output: Grid? = nil
                if let outputValue = item["output"] {
                    do { output = try Grid(json: outputValue) } catch { throw fail("\(here).output", error.description) }
                } else if outputRequired {
                    throw fail(here, "missing key \"output\"")
                }
                result.append(Pair(input: input, output: output))
            }
            return result
        }
        let train = try pairs("train", outputRequired: true)
        let test = try pairs("test", outputRequired: requireTestOutputs)
        if test.isEmpty { throw fail("test", "has no pairs") }
        return ARCTask(id: id, train: train, test: test)
    }

    /// Reads and parses one JSON file; errors name the file (and, with `task`, the task it holds).
    public static func readJSON(_ url: URL, task: String? = nil) throws -> JSONValue {
        let data: Data
        do { data = try InputFile.read(url) } catch {
            throw ARCDataError(file: url.path, task: task, message: "\(error)")
        }
        do { return try JSONParser.parse(data) } catch let e as JSONParseError {
            throw dataError(e, file: url.path, task: task)
        }
    }

    /// A parse error of a task file as an ARCDataError. With `task`, the file holds that one task;
    /// without, its top-level object maps task ids to tasks, solutions or attempts, so a duplicate
    /// key is named with its task: `task X: duplicate task id` or `task X: train[0]: duplicate key "input"`.
    public static func dataError(_ e: JSONParseError, file: String, task: String?) -> ARCDataError {
        guard let key = e.duplicateKey else { return ARCDataError(file: file, task: task, message: e.description) }
        var path = e.pathComponents
        var owner = task
        if owner == nil {
            guard case let .key(id)? = path.first else {
                return ARCDataError(file: file, task: key, message: "duplicate task id (line \(e.line))")
            }
            owner = id
            path.removeFirst()
        }
        let field = JSONPathComponent.text(path)
        return ARCDataError(file: file, task: owner, field: field.isEmpty ? nil : field,
                            message: "duplicate key \(JSONWriter.quoted(key)) (line \(e.line))")
    }

    /// Loads one per-task file; the task id is the file name without `.json`.
    public static func loadTaskFile(_ url: URL) throws -> ARCTask {
        let id = url.deletingPathExtension().lastPathComponent
        return try parseTask(readJSON(url, task: id), id: id, file: url.path)
    }

    /// All `*.json` files below `directory` (recursively), sorted by relative path.
    public static func taskFiles(in directory: URL) throws -> [URL] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw ARCDataError(file: directory.path, message: "no such directory")
        }
        guard let e = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw ARCDataError(file: directory.path, message: "cannot list directory")
        }
        var files = [URL]()
        for case let url as URL in e where url.pathExtension.lowercased() == "json" {
            if url.lastPathComponent.hasPrefix(".") { continue }
            files.append(url)
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Loads a folder of per-task files (nested folders included). Duplicate ids are an error.
    public static func loadDirectory(_ directory: URL, name: String) throws -> TaskSet {
        let files = try taskFiles(in: directory)
        var seen = [String: String]()
        var tasks = [ARCTask]()
        for f in files {
            let task = try loadTaskFile(f)
            if let other = seen[task.id] {
                throw ARCDataError(file: f.path, task: task.id, message: "duplicate task id (also in \(other))")
            }
            seen[task.id] = f.path
            tasks.append(task)
        }
        return TaskSet(name: name, tasks: tasks)
    }

    /// Finds `arc-agi_<split>_challenges.json` (or `-challenges`) in a Kaggle-layout folder.
    public static func kaggleFile(in directory: URL, split: String, kind: String) -> URL? {
        for sep in ["_", "-"] {
            let u = directory.appendingPathComponent("arc-agi_\(split)\(sep)\(kind).json")
            if FileManager.default.fileExists(atPath: u.path) { return u }
        }
        return nil
    }

    /// Loads one split of the Kaggle layout, with its solutions when the file exists.
    public static func loadKaggle(directory: URL, split: String, name: String? = nil) throws -> TaskSet {
        guard let challengesURL = kaggleFile(in: directory, split: split, kind: "challenges") else {
            throw ARCDataError(file: directory.appendingPathComponent("arc-agi_\(split)_challenges.json").path,
                               message: "not found (also tried -challenges)")
        }
        let challenges = try readJSON(challengesURL)
        guard case let .object(entries) = challenges else {
            throw ARCDataError(file: challengesURL.path, message: "is \(challenges.kindName), expected an object {task_id: task}")
        }
        var tasks = [ARCTask]()
        var seen = Set<String>()
        for (id, value) in entries {
            if !seen.insert(id).inserted {
                throw ARCDataError(file: challengesURL.path, task: id, message: "duplicate task id")
            }
            tasks.append(try parseTask(value, id: id, file: challengesURL.path))
        }
        if let solutionsURL = kaggleFile(in: directory, split: split, kind: "solutions") {
            let solutions = try readJSON(solutionsURL)
            guard case let .object(solEntries) = solutions else {
                throw ARCDataError(file: solutionsURL.path, message: "is \(solutions.kindName), expected an object {task_id: [grid, ...]}")
            }
            var byId = [String: JSONValue]()
            for (id, v) in solEntries {
                if byId[id] != nil { throw ARCDataError(file: solutionsURL.path, task: id, message: "duplicate task id") }
                byId[id] = v
            }
            for t in tasks.indices {
                let id = tasks[t].id
                guard let sol = byId.removeValue(forKey: id) else {
                    throw ARCDataError(file: solutionsURL.path, task: id, message: "no solutions for this task of \(challengesURL.lastPathComponent)")
                }
                guard case let .array(grids) = sol else {
                    throw ARCDataError(file: solutionsURL.path, task: id, message: "is \(sol.kindName), expected an array of grids")
                }
                guard grids.count == tasks[t].test.count else {
                    throw ARCDataError(file: solutionsURL.path, task: id,
                                       message: "has \(grids.count) solutions but the challenge has \(tasks[t].test.count) test inputs")
                }
                for (k, g) in grids.enumerated() {
                    do { tasks[t].test[k].output = try Grid(json: g) } catch {
                        throw ARCDataError(file: solutionsURL.path, task: id, field: "[\(k)]", message: error.description)
                    }
                }
            }
            if let extra = byId.keys.sorted().first {
                throw ARCDataError(file: solutionsURL.path, task: extra, message: "solutions for a task that is not in \(challengesURL.lastPathComponent)")
            }
        }
        return TaskSet(name: name ?? "kaggle:\(split)", tasks: tasks)
    }
}
