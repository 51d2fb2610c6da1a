// Instructions for the gripper world, their success test, a scripted expert that solves them, and
// the generator of solvable tasks.

public enum GridCorner: String, CaseIterable, Sendable, Hashable, Codable {
    case topLeft = "top left", topRight = "top right", bottomLeft = "bottom left", bottomRight = "bottom right"

    func cell(gridSize: Int) -> GridCell {
        let last = gridSize - 1
        switch self {
        case .topLeft: return GridCell(column: 0, row: 0)
        case .topRight: return GridCell(column: last, row: 0)
        case .bottomLeft: return GridCell(column: 0, row: last)
        case .bottomRight: return GridCell(column: last, row: last)
        }
    }
}

/// Names an object by colour and shape.
public struct ObjectReference: Sendable, Hashable, Codable {
    public var color: ObjectColor
    public var shape: ShapeKind
    public init(color: ObjectColor, shape: ShapeKind) { self.color = color; self.shape = shape }
    public var name: String { "\(color.rawValue) \(shape.rawValue)" }
}

public enum GripperInstruction: Sendable, Hashable, Codable {
    /// "put the green triangle left of the red square": the target ends in the neighbouring cell of
    /// the reference on that side, released.
    case place(ObjectReference, SpatialRelation, ObjectReference)
    /// "move the blue circle to the top left": the target ends in that corner cell, released.
    case moveToCorner(ObjectReference, GridCorner)

    public var text: String {
        switch self {
        case let .place(target, relation, reference): "put the \(target.name) \(relation.rawValue) the \(reference.name)"
        case let .moveToCorner(target, corner): "move the \(target.name) to the \(corner.rawValue)"
        }
    }

    public var target: ObjectReference {
        switch self {
        case let .place(target, _, _), let .moveToCorner(target, _): target
        }
    }

    /// Reads the two instruction forms back (lowercase; a final period allowed).
    public init(parsing text: String) throws(InstructionParseError) {
        let words = AnswerScorer.normalize(text).split(separator: " ").map(String.init)
        /// "the <colour> <shape>" as three words.
        func reference(_ slice: ArraySlice<String>) throws(InstructionParseError) -> ObjectReference {
            let w = Array(slice)
            guard w.count == 3, w[0] == "the", let color = ObjectColor(rawValue: w[1]),
                  let shape = ShapeKind(rawValue: w[2]) else { throw .malformed(text) }
            return ObjectReference(color: color, shape: shape)
        }
        guard words.count >= 4 else { throw .malformed(text) }
        let target = try reference(words[1..<4])
        let rest = words.dropFirst(4).joined(separator: " ")
        switch words[0] {
        case "put":
            guard let relation = SpatialRelation.allCases.first(where: { rest.hasPrefix($0.rawValue + " the ") }) else {
                throw .malformed(text)
            }
            let referenceWords = rest.dropFirst(relation.rawValue.count + 1).split(separator: " ").map(String.init)
            let anchor = try reference(referenceWords[...])
            self = .place(target, relation, anchor)
        case "move":
            guard rest.hasPrefix("to the "),
                  let corner = GridCorner(rawValue: String(rest.dropFirst("to the ".count))) else { throw .malformed(text) }
            self = .moveToCorner(target, corner)
        default:
            throw .malformed(text)
        }
    }

    /// The cell the target must end in, given where the reference is now; nil when off the grid.
    public func goalCell(in world: GripperWorld) -> GridCell? {
        switch self {
        case let .moveToCorner(_, corner):
            return corner.cell(gridSize: world.gridSize)
        case let .place(_, relation, reference):
            guard let index = world.objectIndex(shape: reference.shape, color: reference.color) else { return nil }
            let anchor = world.objects[index].cell
            let goal: GridCell
            switch relation {
            case .leftOf: goal = GridCell(column: anchor.column - 1, row: anchor.row)
            case .rightOf: goal = GridCell(column: anchor.column + 1, row: anchor.row)
            case .above: goal = GridCell(column: anchor.column, row: anchor.row - 1)
            case .below: goal = GridCell(column: anchor.column, row: anchor.row + 1)
            }
            return world.contains(goal) ? goal : nil
        }
    }

    /// Done: the target sits in the goal cell and the gripper has let go of it.
    public func isSatisfied(in world: GripperWorld) -> Bool {
        guard let index = world.objectIndex(shape: target.shape, color: target.color),
              let goal = goalCell(in: world) else { return false }
        return world.objects[index].cell == goal && world.heldObject == nil
    }
}

public enum InstructionParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    public var description: String {
        switch self {
        case let .malformed(text): "not an instruction ('put the C S left of|right of|above|below the C S' or 'move the C S to the top left|...'): \(text)"
        }
    }
}
