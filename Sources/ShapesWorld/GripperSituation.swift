// The part of a gripper world the expert's next action depends on, in words: where the gripper is
// and whether it is closed, where the named object is, and the cell it must end in. A model taught
// to write this before its actions (`emu train --recipe shapes --locate-then-act`) has to find the
// objects the instruction names first; the gripper's first mistakes are in finding them.

public enum GripperSituation {
    /// "gripper 1 2 open target 3 0 goal 2 2": cells as column then row from the top left; "goal
    /// none" when the goal cell is off the grid (the reference was carried to an edge).
    public static func text(of world: GripperWorld, for instruction: GripperInstruction) -> String {
        func cell(_ cell: GridCell) -> String { "\(cell.column) \(cell.row)" }
        var words = ["gripper", cell(world.gripper), world.isClosed ? "closed" : "open"]
        let target = instruction.target
        if let index = world.objectIndex(shape: target.shape, color: target.color) {
            words += ["target", cell(world.objects[index].cell)]
        } else {
            words += ["target", "none"]
        }
        words += ["goal", instruction.goalCell(in: world).map(cell) ?? "none"]
        return words.joined(separator: " ")
    }

    /// Every word `text` can write (for a vocabulary built from data).
    public static let words = ["gripper", "open", "closed", "target", "goal", "none"]
        + (0..<10).map(String.init)

    /// Words in the longest `text` (a model's room for it).
    public static let maximumWords = 10
}

extension ActionEpisode {
    /// The world before each of `frames`, replaying what the gripper did (`executed`).
    public func worlds() -> [GripperWorld] {
        var world = task.world
        return executed.map { done in
            defer { world.step(done) }
            return world
        }
    }
}
