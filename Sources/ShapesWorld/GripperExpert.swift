// The scripted expert (closed loop: it reads the state, so it recovers from any state a model leaves)
// and the generator of solvable tasks. Its demonstrations are the action task's training data.

/// A task: a start state and an instruction, solvable from that state.
public struct GripperTask: Sendable, Hashable, Codable {
    public var world: GripperWorld
    public var instruction: GripperInstruction
    public init(world: GripperWorld, instruction: GripperInstruction) {
        self.world = world; self.instruction = instruction
    }
}

public enum GripperExpert {
    /// The expert's next action in `world`.
    public static func action(in world: GripperWorld, for instruction: GripperInstruction) -> Action {
        if instruction.isSatisfied(in: world) { return .stop }
        let target = instruction.target
        guard let targetIndex = world.objectIndex(shape: target.shape, color: target.color) else { return .stop }
        if world.isClosed {
            guard world.heldObject == targetIndex else { return .release }  // holding the wrong thing or nothing
            guard let goal = instruction.goalCell(in: world) else { return .stop }
            if world.gripper == goal { return .release }
            guard let move = firstMove(in: world, from: world.gripper, to: goal, avoiding: targetIndex) else { return .stop }
            return move
        }
        let here = world.objects[targetIndex].cell
        if world.gripper == here { return .grasp }
        // Unladen, the gripper passes over objects: go straight, columns first.
        if world.gripper.column < here.column { return .right }
        if world.gripper.column > here.column { return .left }
        return world.gripper.row < here.row ? .down : .up
    }

    /// The expert's whole episode from `task`, ending with `stop` (at most `maxSteps` actions).
    public static func solve(_ task: GripperTask, maxSteps: Int = 64) -> [Action] {
        var world = task.world
        var actions: [Action] = []
        while !world.isDone && actions.count < maxSteps {
            let action = action(in: world, for: task.instruction)
            actions.append(action)
            world.step(action)
        }
        return actions
    }

    /// First move of a shortest path for the held object, through cells no other object occupies.
    /// Breadth-first with a fixed move order, so the path is deterministic.
    static func firstMove(in world: GripperWorld, from start: GridCell, to goal: GridCell, avoiding held: Int) -> Action? {
        let moves: [Action] = [.up, .down, .left, .right]
        var firstStep: [GridCell: Action] = [start: .stop]
        var frontier = [start]
        while !frontier.isEmpty {
            var next: [GridCell] = []
            for cell in frontier {
                for move in moves {
                    let neighbour = cell.moved(move)
                    guard world.contains(neighbour), firstStep[neighbour] == nil else { continue }
                    if let occupant = world.objectIndex(at: neighbour), occupant != held { continue }
                    firstStep[neighbour] = cell == start ? move : firstStep[cell]!
                    if neighbour == goal { return firstStep[neighbour] }
                    next.append(neighbour)
                }
            }
            frontier = next
        }
        return nil
    }

    /// A solvable task from `seed`: 2 or 3 objects of distinct colours in distinct cells, the gripper
    /// open somewhere, and an instruction not yet satisfied whose goal is reachable.
    public static func task(seed: UInt64, gridSize: Int = GripperWorld.defaultGridSize) -> GripperTask {
        var rng = SeededRandom(seed: seed, stream: 4)
        while true {
            var colors = GripperWorld.objectColors
            rng.shuffle(&colors)
            var cells = (0..<(gridSize * gridSize)).map { GridCell(column: $0 % gridSize, row: $0 / gridSize) }
            rng.shuffle(&cells)
            let count = rng.int(in: 2...3)
            let objects = (0..<count).map {
                GridObject(shape: rng.element(of: ShapeKind.allCases), color: colors[$0], cell: cells[$0])
            }
            let gripper = GridCell(column: rng.int(below: gridSize), row: rng.int(below: gridSize))
            let world = GripperWorld(gridSize: gridSize, objects: objects, gripper: gripper)
            let targetIndex = rng.int(below: count)
            let target = ObjectReference(color: objects[targetIndex].color, shape: objects[targetIndex].shape)
            let instruction: GripperInstruction
            if rng.bool() {
                instruction = .moveToCorner(target, rng.element(of: GridCorner.allCases))
            } else {
                var referenceIndex = rng.int(below: count - 1)
                if referenceIndex >= targetIndex { referenceIndex += 1 }
                let reference = ObjectReference(color: objects[referenceIndex].color, shape: objects[referenceIndex].shape)
                instruction = .place(target, rng.element(of: SpatialRelation.allCases), reference)
            }
            guard !instruction.isSatisfied(in: world), let goal = instruction.goalCell(in: world) else { continue }
            if let occupant = world.objectIndex(at: goal), occupant != targetIndex { continue }
            let start = objects[targetIndex].cell
            guard firstMove(in: world, from: start, to: goal, avoiding: targetIndex) != nil else { continue }
            return GripperTask(world: world, instruction: instruction)
        }
    }
}
