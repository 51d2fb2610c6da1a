import EmuIO
import EmuTokenizers

// The action environment: a gripper on a grid of cells over the 64x64 canvas, objects one per cell.
// Moving with an object held carries it along; a move into a wall or, while holding, into another
// object's cell does nothing. The action set is the tokenizer's `DiscreteAction`, so episodes map
// one-to-one onto action tokens.

public typealias Action = DiscreteAction

/// A grid cell: column from the left, row from the top.
public struct GridCell: Sendable, Hashable, Codable {
    public var column: Int
    public var row: Int
    public init(column: Int, row: Int) { self.column = column; self.row = row }

    func moved(_ action: Action) -> GridCell {
        switch action {
        case .up: GridCell(column: column, row: row - 1)
        case .down: GridCell(column: column, row: row + 1)
        case .left: GridCell(column: column - 1, row: row)
        case .right: GridCell(column: column + 1, row: row)
        case .grasp, .release, .stop: self
        }
    }
}

/// An object of the gripper world, named in instructions by colour and shape (unique per world).
public struct GridObject: Sendable, Hashable, Codable {
    public var shape: ShapeKind
    public var color: ObjectColor
    public var cell: GridCell
    public init(shape: ShapeKind, color: ObjectColor, cell: GridCell) {
        self.shape = shape; self.color = color; self.cell = cell
    }
    public var name: String { "\(color.rawValue) \(shape.rawValue)" }
}

public struct GripperWorld: Sendable, Hashable, Codable {
    /// Cells per side and pixels per cell: 4 x 16 px = 64 px, two VQ codes per cell side.
    public static let defaultGridSize = 4
    /// White is the gripper's colour, so objects use the others.
    public static let objectColors = ObjectColor.allCases.filter { $0 != .white }
    public static let gripperColor: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)

    public var gridSize: Int
    public var objects: [GridObject]
    public var gripper: GridCell
    /// Closed after `grasp` (holding `heldObject` if the cell had one), open after `release`.
    public var isClosed = false
    public var heldObject: Int?
    /// Set by `stop`; later actions do nothing.
    public var isDone = false

    public init(gridSize: Int = GripperWorld.defaultGridSize, objects: [GridObject], gripper: GridCell) {
        self.gridSize = gridSize; self.objects = objects; self.gripper = gripper
    }

    public var cellPixels: Int { Scene.canvasSize / gridSize }

    public func contains(_ cell: GridCell) -> Bool {
        cell.column >= 0 && cell.row >= 0 && cell.column < gridSize && cell.row < gridSize
    }

    public func objectIndex(at cell: GridCell) -> Int? { objects.firstIndex { $0.cell == cell } }

    public func objectIndex(shape: ShapeKind, color: ObjectColor) -> Int? {
        objects.firstIndex { $0.shape == shape && $0.color == color }
    }

    /// Applies one action; returns whether the state changed.
    @discardableResult
    public mutating func step(_ action: Action) -> Bool {
        guard !isDone else { return false }
        switch action {
        case .up, .down, .left, .right:
            let target = gripper.moved(action)
            guard contains(target) else { return false }
            if let held = heldObject {
                if let other = objectIndex(at: target), other != held { return false }
                objects[held].cell = target
            }
            gripper = target
            return true
        case .grasp:
            guard !isClosed else { return false }
            isClosed = true
            heldObject = objectIndex(at: gripper)
            return true
        case .release:
            guard isClosed else { return false }
            isClosed = false
            heldObject = nil
            return true
        case .stop:
            isDone = true
            return true
        }
    }

    /// Objects drawn at cell centres at 10 px, the gripper as a 2 px white outline around its cell:
    /// corner brackets when open, a full square when closed.
    public func render() -> RGBImage {
        var image = RGBImage(width: Scene.canvasSize, height: Scene.canvasSize, fill: sceneBackground)
        let cell = cellPixels
        let half = Double(cell) * 5 / 16
        for object in objects {
            let center = SceneObject(shape: object.shape, color: object.color, size: .small,
                                     x: Double(object.cell.column * cell) + Double(cell) / 2,
                                     y: Double(object.cell.row * cell) + Double(cell) / 2)
            SceneRenderer.draw(center, halfSize: half, into: &image)
        }
        SceneRenderer.drawOutline(x0: gripper.column * cell, y0: gripper.row * cell, side: cell,
                                  thickness: max(1, cell / 8), gapped: !isClosed, color: Self.gripperColor, into: &image)
        return image
    }
}
