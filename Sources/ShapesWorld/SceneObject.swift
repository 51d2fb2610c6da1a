// The vocabulary of the world: shapes, colours, sizes, and one object placed on the canvas.
// Every shape is defined once, as a region of the unit square [-1, 1]^2 (y grows downwards), and
// both the renderer and the reader use that one definition.

/// The shapes of ShapesWorld. Raw values are the caption words.
public enum ShapeKind: String, CaseIterable, Sendable, Hashable, Codable {
    case circle, square, triangle, diamond, cross

    /// The plural caption word ("crosses").
    public var plural: String { self == .cross ? "crosses" : rawValue + "s" }

    /// Whether the point (x, y) of the unit square [-1, 1]^2 lies inside the shape.
    /// The triangle points up: apex (0, -1), base from (-1, 1) to (1, 1).
    public func contains(x: Double, y: Double) -> Bool {
        guard abs(x) <= 1, abs(y) <= 1 else { return false }
        switch self {
        case .circle: return x * x + y * y <= 1
        case .square: return true
        case .triangle: return abs(x) <= (y + 1) / 2
        case .diamond: return abs(x) + abs(y) <= 1
        case .cross: return abs(x) <= 1.0 / 3 || abs(y) <= 1.0 / 3
        }
    }

    /// Distance from the centre to the farthest point, in half-sizes: the radius of the disc used
    /// for collisions and non-overlapping placement.
    public var boundingRadius: Double {
        switch self {
        case .circle, .diamond: 1
        case .cross: (1 + 1.0 / 9).squareRoot()
        case .square, .triangle: 2.0.squareRoot()
        }
    }

    /// The shape's area over its bounding box's area.
    public var fillRatio: Double {
        switch self {
        case .circle: Double.pi / 4
        case .square: 1
        case .triangle, .diamond: 0.5
        case .cross: 5.0 / 9
        }
    }

    /// Offset of the area centroid from the bounding-box centre, in half-sizes (only the
    /// triangle's differs: its mass sits low). The reader subtracts it to report box centres.
    public var centroidOffsetY: Double { self == .triangle ? 1.0 / 3 : 0 }
}

/// The colours of ShapesWorld: saturated and far apart in RGB so they survive VQ blur.
public enum ObjectColor: String, CaseIterable, Sendable, Hashable, Codable {
    case red, orange, yellow, green, cyan, blue, purple, white

    public var rgb: (r: UInt8, g: UInt8, b: UInt8) {
        switch self {
        case .red: (230, 30, 30)
        case .orange: (255, 130, 20)
        case .yellow: (235, 235, 40)
        case .green: (40, 200, 60)
        case .cyan: (40, 210, 230)
        case .blue: (50, 90, 250)
        case .purple: (190, 70, 230)
        case .white: (240, 240, 240)
        }
    }
}

/// Object sizes: the side of the bounding box in pixels.
public enum ObjectSize: String, CaseIterable, Sendable, Hashable, Codable {
    case small, large

    public var pixels: Int { self == .small ? 12 : 20 }
    public var halfSize: Double { Double(pixels) / 2 }
}

/// The background every scene is drawn on.
public let sceneBackground: (r: UInt8, g: UInt8, b: UInt8) = (0, 0, 0)

/// One object: what it is and where its bounding box's centre lies (pixels, x right, y down).
public struct SceneObject: Sendable, Hashable, Codable {
    public var shape: ShapeKind
    public var color: ObjectColor
    public var size: ObjectSize
    public var x: Double
    public var y: Double

    public init(shape: ShapeKind, color: ObjectColor, size: ObjectSize, x: Double, y: Double) {
        self.shape = shape; self.color = color; self.size = size; self.x = x; self.y = y
    }

    /// Half the bounding box side; the action environment draws objects smaller than `size` says.
    public var halfSize: Double { size.halfSize }
    public var boundingRadius: Double { shape.boundingRadius * halfSize }

    /// Same shape, colour and size (ignores position).
    public func isSameKind(as other: SceneObject) -> Bool {
        shape == other.shape && color == other.color && size == other.size
    }
}

/// A still scene: objects in caption order on a square canvas.
public struct Scene: Sendable, Hashable, Codable {
    public static let canvasSize = 64
    public var objects: [SceneObject]
    public var canvasSize: Int

    public init(objects: [SceneObject], canvasSize: Int = Scene.canvasSize) {
        self.objects = objects; self.canvasSize = canvasSize
    }
}
