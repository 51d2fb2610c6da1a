// Relative position of two objects, from geometry. Two rules: a strict one that scene generation
// uses so every caption's relation is unambiguous, and a lenient one for scoring generated images
// (GenEval-style: the right side along the dominant axis, past a small margin).

public enum SpatialRelation: String, CaseIterable, Sendable, Hashable, Codable {
    case leftOf = "left of", rightOf = "right of", above, below

    /// Pixels the first object lies beyond the second along this relation's axis (positive when it
    /// holds), and the absolute offset across that axis.
    func offsets(_ a: SceneObject, _ b: SceneObject) -> (along: Double, across: Double) {
        switch self {
        case .leftOf: (b.x - a.x, abs(b.y - a.y))
        case .rightOf: (a.x - b.x, abs(b.y - a.y))
        case .above: (b.y - a.y, abs(b.x - a.x))
        case .below: (a.y - b.y, abs(b.x - a.x))
        }
    }

    /// Minimum separation along the axis, and lead over the perpendicular offset, for a relation
    /// to be stated in a generated caption.
    public static let strictSeparation = 12.0
    public static let strictDominance = 8.0
    /// Margin along the axis for the lenient (scoring) rule.
    public static let lenientMargin = 3.0

    /// The relation of `a` to `b` when it is unambiguous (clear separation, clearly dominant axis).
    public static func strict(_ a: SceneObject, _ b: SceneObject) -> SpatialRelation? {
        allCases.first { relation in
            let (along, across) = relation.offsets(a, b)
            return along >= strictSeparation && along >= across + strictDominance
        }
    }

    /// Whether "a <relation> b" is a fair reading of the picture: `a` lies past `b` by the margin
    /// along this relation's axis, and that axis dominates.
    public func holdsLeniently(_ a: SceneObject, _ b: SceneObject) -> Bool {
        let (along, across) = offsets(a, b)
        return along >= Self.lenientMargin && along >= across
    }

    public var opposite: SpatialRelation {
        switch self {
        case .leftOf: .rightOf
        case .rightOf: .leftOf
        case .above: .below
        case .below: .above
        }
    }
}
