// Seeded scene layouts. Objects never overlap: their bounding discs keep a gap, so the reader sees
// separate blobs even after blur.

/// What a generated scene is meant to exercise.
public enum SceneKind: String, CaseIterable, Sendable, Hashable, Codable {
    /// One object: "a small red circle".
    case single
    /// Two objects differing in shape and colour, with an unambiguous relation.
    case pair
    /// Two or three identical objects: "two small green triangles".
    case counting
    /// Three objects with distinct shapes and colours.
    case mixed
}

public enum SceneGenerator {
    /// Pixels kept free between objects' bounding discs, and between objects and the border.
    public static let objectGap = 3.0
    public static let borderMargin = 1.0

    /// A scene of the given kind from `seed` (same seed, same scene).
    public static func scene(kind: SceneKind, seed: UInt64) -> Scene {
        var rng = SeededRandom(seed: seed, stream: 1)
        return scene(kind: kind, using: &rng)
    }

    /// A scene of a kind drawn uniformly. `positionStep` > 1 puts object centres on multiples of
    /// it (8, the VQ-VAE's stride, puts every object at the same offset within its code cells).
    public static func scene(seed: UInt64, positionStep: Int = 1) -> Scene {
        var rng = SeededRandom(seed: seed, stream: 2)
        let kind = rng.element(of: SceneKind.allCases)
        return scene(kind: kind, positionStep: positionStep, using: &rng)
    }

    public static func scene(kind: SceneKind, positionStep: Int = 1, using rng: inout SeededRandom) -> Scene {
        // Layout attempts rarely fail (three large squares are the tightest case); on failure the
        // attributes are redrawn too, so the loop always ends.
        while true {
            let kinds = attributes(for: kind, using: &rng)
            if let objects = place(kinds, requireRelation: kind == .pair, positionStep: positionStep, using: &rng) {
                return Scene(objects: objects)
            }
        }
    }

    /// A scene that shows exactly what `spec` says (unstated attributes drawn at random), e.g. the
    /// ideal answer to a text-to-image prompt. Nil when no layout was found (an impossible spec).
    public static func scene(satisfying spec: SceneSpec, seed: UInt64) -> Scene? {
        var rng = SeededRandom(seed: seed, stream: 8)
        for _ in 0..<500 {
            var objects: [SceneObject] = []
            for group in spec.groups {
                let object = SceneObject(shape: group.shape, color: group.color ?? rng.element(of: ObjectColor.allCases),
                                         size: group.size ?? rng.element(of: ObjectSize.allCases), x: 0, y: 0)
                objects += Array(repeating: object, count: group.count)
            }
            guard let placed = place(objects, requireRelation: false, using: &rng) else { continue }
            if let relation = spec.relation, SpatialRelation.strict(placed[0], placed[spec.groups[0].count]) != relation {
                continue
            }
            let scene = Scene(objects: placed)
            if spec.isSatisfied(by: placed) { return scene }
        }
        return nil
    }

    /// Shapes, colours and sizes for a scene kind (positions zero until placed).
    static func attributes(for kind: SceneKind, using rng: inout SeededRandom) -> [SceneObject] {
        func object(_ shape: ShapeKind, _ color: ObjectColor, _ size: ObjectSize) -> SceneObject {
            SceneObject(shape: shape, color: color, size: size, x: 0, y: 0)
        }
        switch kind {
        case .single:
            return [object(rng.element(of: ShapeKind.allCases), rng.element(of: ObjectColor.allCases),
                           rng.element(of: ObjectSize.allCases))]
        case .counting:
            let item = object(rng.element(of: ShapeKind.allCases), rng.element(of: ObjectColor.allCases),
                              rng.element(of: ObjectSize.allCases))
            return Array(repeating: item, count: rng.int(in: 2...3))
        case .pair, .mixed:
            let count = kind == .pair ? 2 : 3
            var shapes = ShapeKind.allCases, colors = ObjectColor.allCases
            rng.shuffle(&shapes); rng.shuffle(&colors)
            return (0..<count).map { object(shapes[$0], colors[$0], rng.element(of: ObjectSize.allCases)) }
        }
    }

    /// Places objects at integer centres (multiples of `positionStep`) without overlap; nil when
    /// 200 tries found no layout.
    static func place(_ objects: [SceneObject], requireRelation: Bool, positionStep: Int = 1,
                      canvas: Int = Scene.canvasSize, using rng: inout SeededRandom) -> [SceneObject]? {
        precondition(positionStep >= 1, "positionStep must be at least 1")
        for _ in 0..<200 {
            var placed: [SceneObject] = []
            for var object in objects {
                var found = false
                for _ in 0..<50 {
                    let margin = Int((object.halfSize + borderMargin).rounded(.up))
                    let low = (margin + positionStep - 1) / positionStep, high = (canvas - margin) / positionStep
                    object.x = Double(rng.int(in: low...high) * positionStep)
                    object.y = Double(rng.int(in: low...high) * positionStep)
                    let clear = placed.allSatisfy { other in
                        let dx = other.x - object.x, dy = other.y - object.y
                        return (dx * dx + dy * dy).squareRoot() >= other.boundingRadius + object.boundingRadius + objectGap
                    }
                    if clear { found = true; break }
                }
                guard found else { break }
                placed.append(object)
            }
            guard placed.count == objects.count else { continue }
            if requireRelation, SpatialRelation.strict(placed[0], placed[1]) == nil { continue }
            return placed
        }
        return nil
    }
}
