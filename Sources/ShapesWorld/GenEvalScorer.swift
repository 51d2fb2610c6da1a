import EmuIO

// GenEval-style scoring of text-to-image: prompts in five categories, each judged correct or not by
// reading the generated picture back (SceneReader) and testing the prompt's spec on what was read.
// Stricter than GenEval in one way: the picture must hold exactly the prompted number of objects.

public enum GenEvalCategory: String, CaseIterable, Sendable, Hashable, Codable {
    case singleObject = "single_object", twoObjects = "two_objects", counting, colors, position
}

public struct GenEvalPrompt: Sendable, Hashable, Codable {
    public var category: GenEvalCategory
    public var prompt: String
    public var spec: SceneSpec

    public init(category: GenEvalCategory, spec: SceneSpec) {
        self.category = category; self.spec = spec; self.prompt = CaptionGrammar.caption(spec)
    }

    /// A prompt of `category` from `seed`.
    ///   single_object "a small red circle"; two_objects "a small red circle and a large blue square";
    ///   counting "three small green triangles"; colors "a red circle" (no size);
    ///   position "a small red circle above a large blue square".
    public init(category: GenEvalCategory, seed: UInt64) {
        var rng = SeededRandom(seed: seed, stream: 6)
        var shapes = ShapeKind.allCases, colors = ObjectColor.allCases
        rng.shuffle(&shapes); rng.shuffle(&colors)
        func full(_ i: Int, count: Int = 1) -> ObjectDescription {
            ObjectDescription(count: count, size: rng.element(of: ObjectSize.allCases), color: colors[i], shape: shapes[i])
        }
        let spec: SceneSpec
        switch category {
        case .singleObject: spec = SceneSpec(groups: [full(0)])
        case .twoObjects: spec = SceneSpec(groups: [full(0), full(1)])
        case .counting: spec = SceneSpec(groups: [full(0, count: rng.int(in: 2...3))])
        case .colors: spec = SceneSpec(groups: [ObjectDescription(color: colors[0], shape: shapes[0])])
        case .position: spec = SceneSpec(groups: [full(0), full(1)], relation: rng.element(of: SpatialRelation.allCases))
        }
        self.init(category: category, spec: spec)
    }

    /// `perCategory` prompts of every category, seeds `firstSeed`, `firstSeed + 1`, ... per category.
    public static func promptSet(perCategory: Int, firstSeed: UInt64) -> [GenEvalPrompt] {
        GenEvalCategory.allCases.flatMap { category in
            (0..<perCategory).map { GenEvalPrompt(category: category, seed: firstSeed &+ UInt64($0)) }
        }
    }
}

/// Why a picture fails its prompt: the first of these checks that it fails, in this order. The
/// object count first (an extra or missing object fails everything after it); then, for the right
/// number of objects, the shapes (the nouns), their colours, their sizes, and last where they are.
/// Each check adds to the ones before it, so colours swapped between two shapes fail `color`.
public enum GenEvalFailure: String, CaseIterable, Sendable, Hashable, Codable {
    case tooFewObjects = "too_few_objects", tooManyObjects = "too_many_objects", shape, color, size, position

    /// Nil when `objects` show what `spec` says (exact count).
    public init?(spec: SceneSpec, objects: [SceneObject]) {
        if spec.isSatisfied(by: objects, exactCount: true) { return nil }
        if objects.count != spec.objectCount {
            self = objects.count < spec.objectCount ? .tooFewObjects : .tooManyObjects
            return
        }
        let relaxed: [(GenEvalFailure, (ObjectDescription, SceneObject) -> Bool)] = [
            (.shape, { $0.shape == $1.shape }),
            (.color, { $0.shape == $1.shape && ($0.color == nil || $0.color == $1.color) }),
            (.size, { $0.matches($1) }),
        ]
        for (failure, matching) in relaxed where spec.assignment(of: objects, matching: matching, honouringRelation: false) == nil {
            self = failure
            return
        }
        self = .position
    }
}

public struct GenEvalJudgement: Sendable, Hashable {
    public var prompt: GenEvalPrompt
    /// Nil when the picture is right.
    public var failure: GenEvalFailure?
    public var detected: [DetectedObject]

    public var correct: Bool { failure == nil }
}

public struct GenEvalReport: Sendable, Hashable, Codable {
    /// Accuracy per category (categories with no prompts are absent).
    public var accuracy: [String: Double]
    /// Mean of the per-category accuracies (GenEval's overall score).
    public var overall: Double
    public var promptCount: Int
    /// Failed prompts per category, by `GenEvalFailure` (reasons with no prompts are absent).
    public var failures: [String: [String: Int]]
}

public struct GenEvalScorer: Sendable {
    public var reader: SceneReader

    public init(reader: SceneReader = SceneReader()) { self.reader = reader }

    public func judge(_ prompt: GenEvalPrompt, image: RGBImage) -> GenEvalJudgement {
        let detected = reader.read(image)
        let failure = GenEvalFailure(spec: prompt.spec, objects: detected.map(\.object))
        return GenEvalJudgement(prompt: prompt, failure: failure, detected: detected)
    }

    public static func report(_ judgements: [GenEvalJudgement]) -> GenEvalReport {
        var accuracy: [String: Double] = [:], failures: [String: [String: Int]] = [:]
        for category in GenEvalCategory.allCases {
            let ofCategory = judgements.filter { $0.prompt.category == category }
            guard !ofCategory.isEmpty else { continue }
            accuracy[category.rawValue] = Double(ofCategory.filter(\.correct).count) / Double(ofCategory.count)
            for case let failure? in ofCategory.map(\.failure) {
                failures[category.rawValue, default: [:]][failure.rawValue, default: 0] += 1
            }
        }
        // Summed in the categories' order: a dictionary's order changes from process to process, and
        // with it the last bit of the sum (0.75 one run, 0.7499999999999999 the next).
        let overall = accuracy.isEmpty ? 0
            : GenEvalCategory.allCases.compactMap { accuracy[$0.rawValue] }.reduce(0, +) / Double(accuracy.count)
        return GenEvalReport(accuracy: accuracy, overall: overall, promptCount: judgements.count, failures: failures)
    }
}
