// What a caption says about a scene, independent of exact positions: groups of objects
// ("two small green triangles") and, for two single objects, their relation. Captions are formatted
// from it and parsed back into it (CaptionGrammar.swift); generated images are scored against it.

/// One noun phrase of a caption: how many objects of which kind. Nil attributes are unconstrained
/// (a prompt "two green triangles" says nothing about size).
public struct ObjectDescription: Sendable, Hashable, Codable {
    public var count: Int
    public var size: ObjectSize?
    public var color: ObjectColor?
    public var shape: ShapeKind

    public init(count: Int = 1, size: ObjectSize? = nil, color: ObjectColor? = nil, shape: ShapeKind) {
        self.count = count; self.size = size; self.color = color; self.shape = shape
    }

    public func matches(_ object: SceneObject) -> Bool {
        object.shape == shape && (color == nil || object.color == color) && (size == nil || object.size == size)
    }
}

/// A caption's meaning.
public struct SceneSpec: Sendable, Hashable, Codable {
    public var groups: [ObjectDescription]
    /// "groups[0] <relation> groups[1]"; only when both groups are single objects.
    public var relation: SpatialRelation?

    public init(groups: [ObjectDescription], relation: SpatialRelation? = nil) {
        self.groups = groups; self.relation = relation
    }

    public var objectCount: Int { groups.reduce(0) { $0 + $1.count } }

    /// Whether both say the same of a scene, whatever order they name its groups in ("A above B" is
    /// "B below A"; "A and B" is "B and A").
    public func describesSameScene(as other: SceneSpec) -> Bool {
        guard groups.count == other.groups.count else { return false }
        switch (relation, other.relation) {
        case (nil, nil):
            var unmatched = other.groups
            for group in groups {
                guard let index = unmatched.firstIndex(of: group) else { return false }
                unmatched.remove(at: index)
            }
            return true
        case let (mine?, theirs?) where groups.count == 2:
            return (groups == other.groups && mine == theirs)
                || (groups == other.groups.reversed() && mine == theirs.opposite)
        default:
            return false
        }
    }

    /// The canonical description of a scene: identical objects grouped in order of first
    /// appearance; the relation stated when there are exactly two objects and it is unambiguous.
    public init(describing scene: Scene) {
        var groups: [ObjectDescription] = []
        for object in scene.objects {
            if let index = groups.firstIndex(where: {
                $0.shape == object.shape && $0.color == object.color && $0.size == object.size
            }) {
                groups[index].count += 1
            } else {
                groups.append(ObjectDescription(count: 1, size: object.size, color: object.color, shape: object.shape))
            }
        }
        var relation: SpatialRelation?
        if groups.count == 2, scene.objects.count == 2 {
            relation = SpatialRelation.strict(scene.objects[0], scene.objects[1])
        }
        self.init(groups: groups, relation: relation)
    }

    /// Whether `objects` (a scene's, or those read from an image) show what the spec says.
    /// With `exactCount`, no object may be left over; relations use the lenient rule.
    public func isSatisfied(by objects: [SceneObject], exactCount: Bool = true) -> Bool {
        if exactCount, objects.count != objectCount { return false }
        return assignment(of: objects) != nil
    }

    /// Object indices for each group (groups in order, each with `count` indices), honouring the
    /// relation; nil when none exists. Backtracking: scenes hold a handful of objects.
    /// `matching` and `honouringRelation` relax the test (GenEval's failure diagnosis: is it the
    /// colours that are wrong, the shapes, the sizes, or only where things are?).
    public func assignment(of objects: [SceneObject],
                           matching: (ObjectDescription, SceneObject) -> Bool = { $0.matches($1) },
                           honouringRelation: Bool = true) -> [[Int]]? {
        var used = [Bool](repeating: false, count: objects.count)
        var chosen: [[Int]] = []
        func search(group: Int) -> Bool {
            if group == groups.count {
                if honouringRelation, let relation, groups.count >= 2 {
                    return relation.holdsLeniently(objects[chosen[0][0]], objects[chosen[1][0]])
                }
                return true
            }
            return pick(group: group, need: groups[group].count, from: 0, picked: [])
        }
        func pick(group: Int, need: Int, from start: Int, picked: [Int]) -> Bool {
            if need == 0 {
                chosen.append(picked)
                if search(group: group + 1) { return true }
                chosen.removeLast()
                return false
            }
            guard start < objects.count else { return false }
            for index in start..<objects.count where !used[index] && matching(groups[group], objects[index]) {
                used[index] = true
                if pick(group: group, need: need - 1, from: index + 1, picked: picked + [index]) { return true }
                used[index] = false
            }
            return false
        }
        return search(group: 0) ? chosen : nil
    }
}
