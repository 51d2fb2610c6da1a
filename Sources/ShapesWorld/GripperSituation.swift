// The part of a gripper world the expert's next action depends on, in words: where the gripper is
// and whether it is closed, where the named object is, and the cell it must end in. A model taught
// to write this before its actions (`emu train --recipe shapes --locate-then-act`) has to find the
// objects the instruction names first; the gripper's first mistakes are in finding them.

public enum GripperSituation {
    /// "gripper 1 2 open target 3 0 goal 2 2": cells as column then row from the top left; "goal
    /// none" when the goal cell is off the grid (the reference was carried to an edge). With
    /// `listingObjects`, first every object and its cell ("red square 3 0 blue circle 1 1 ..."), so
    /// that the target's cell can be copied from the list by its name rather than found at once.
    public static func text(of world: GripperWorld, for instruction: GripperInstruction, listingObjects: Bool = false) -> String {
        func cell(_ cell: GridCell) -> String { "\(cell.column) \(cell.row)" }
        var words = listingObjects ? world.objects.map { "\($0.name) \(cell($0.cell))" } : []
        words += ["gripper", cell(world.gripper), world.isClosed ? "closed" : "open"]
        let target = instruction.target
        if let index = world.objectIndex(shape: target.shape, color: target.color) {
            words += ["target", cell(world.objects[index].cell)]
        } else {
            words += ["target", "none"]
        }
        words += ["goal", instruction.goalCell(in: world).map(cell) ?? "none"]
        return words.joined(separator: " ")
    }

    /// The labels of `text`'s parts, in order.
    public static let parts = ["gripper", "target", "goal"]

    /// The part before the first label in `parts(of:)`: the object list, when there is one.
    public static let objectsPart = "objects"

    /// `text` split at its labels: label -> the words after it ("gripper" -> "1 2 open"), and
    /// `objectsPart` -> the words before the first label if any; a label written twice keeps its
    /// last part.
    public static func parts(of text: String) -> [String: String] {
        var found: [String: [String]] = [:]
        var current = objectsPart
        for word in text.split(separator: " ").map(String.init) {
            if parts.contains(word) { current = word; found[word] = [] } else { found[current, default: []].append(word) }
        }
        return found.mapValues { $0.joined(separator: " ") }
    }

    /// Share of `written` situations that match `truth`, per part, for the object list when the
    /// truth has one, and "all".
    public static func accuracy(written: [String], truth: [String]) -> [String: Double] {
        precondition(written.count == truth.count, "one written situation per true one")
        let listed = truth.contains { Self.parts(of: $0)[objectsPart] != nil }
        let scored = (listed ? [objectsPart] : []) + parts
        var right = Dictionary(uniqueKeysWithValues: (scored + ["all"]).map { ($0, 0) })
        for (w, t) in zip(written, truth) {
            let (wp, tp) = (Self.parts(of: w), Self.parts(of: t))
            for part in scored where wp[part] == tp[part] { right[part, default: 0] += 1 }
            if w == t { right["all", default: 0] += 1 }
        }
        return right.mapValues { truth.isEmpty ? 0 : Double($0) / Double(truth.count) }
    }

    /// Every word `text` can write (for a vocabulary built from data).
    public static let words = ["gripper", "open", "closed", "target", "goal", "none"]
        + (0..<10).map(String.init) + ObjectColor.allCases.map(\.rawValue) + ShapeKind.allCases.map(\.rawValue)

    /// Words in the longest `text` (a model's room for it): 3 objects of 4 words, then 10.
    public static let maximumWords = 22
}
