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

public struct GenEvalJudgement: Sendable, Hashable {
    public var prompt: GenEvalPrompt
    public var correct: Bool
    public var detected: [DetectedObject]
}

public struct GenEvalReport: Sendable, Hashable, Codable {
    /// Accuracy per category (categories with no prompts are absent).
    public var accuracy: [String: Double]
    /// Mean of the per-category accuracies (GenEval's overall score).
    public var overall: Double
    public var promptCount: Int
}

public struct GenEvalScorer: Sendable {
    public var reader: SceneReader

    public init(reader: SceneReader = SceneReader()) { self.reader = reader }

    public func judge(_ prompt: GenEvalPrompt, image: RGBImage) -> GenEvalJudgement {
        let detected = reader.read(image)
        let correct = prompt.spec.isSatisfied(by: detected.map(\.object), exactCount: true)
        return GenEvalJudgement(prompt: prompt, correct: correct, detected: detected)
    }

    public static func report(_ judgements: [GenEvalJudgement]) -> GenEvalReport {
        var accuracy: [String: Double] = [:]
        for category in GenEvalCategory.allCases {
            let ofCategory = judgements.filter { $0.prompt.category == category }
            guard !ofCategory.isEmpty else { continue }
            accuracy[category.rawValue] = Double(ofCategory.filter(\.correct).count) / Double(ofCategory.count)
        }
        let overall = accuracy.isEmpty ? 0 : accuracy.values.reduce(0, +) / Double(accuracy.count)
        return GenEvalReport(accuracy: accuracy, overall: overall, promptCount: judgements.count)
    }
}
