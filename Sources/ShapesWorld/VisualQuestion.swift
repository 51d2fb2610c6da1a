// Questions about a scene with one right answer each, for the understanding task, and the scorer
// for a model's answers (exact match, and attribute-level credit for descriptions).

public enum QuestionKind: String, CaseIterable, Sendable, Hashable, Codable {
    case color, shape, size, countShape, countObjects, relation, existence, describe
}

public struct VisualQuestion: Sendable, Hashable, Codable {
    public var kind: QuestionKind
    public var question: String
    public var answer: String

    public init(kind: QuestionKind, question: String, answer: String) {
        self.kind = kind; self.question = question; self.answer = answer
    }
}

public enum QuestionGenerator {
    public static let describePrompt = "describe the image."

    /// Every question of `kind` that has a unique answer in `scene` (may be empty).
    public static func questions(of kind: QuestionKind, about scene: Scene) -> [VisualQuestion] {
        let objects = scene.objects
        func unique(_ predicate: (SceneObject) -> Bool) -> SceneObject? {
            let found = objects.filter(predicate)
            return found.count == 1 ? found[0] : nil
        }
        func make(_ question: String, _ answer: String) -> VisualQuestion {
            VisualQuestion(kind: kind, question: question, answer: answer)
        }
        switch kind {
        case .color:
            return ShapeKind.allCases.compactMap { shape in
                unique { $0.shape == shape }.map { make("what colour is the \(shape.rawValue)?", $0.color.rawValue) }
            }
        case .shape:
            return ObjectColor.allCases.compactMap { color in
                unique { $0.color == color }.map { make("what shape is the \(color.rawValue) object?", $0.shape.rawValue) }
            }
        case .size:
            return objects.compactMap { object in
                unique { $0.shape == object.shape && $0.color == object.color }.map {
                    make("what size is the \(object.color.rawValue) \(object.shape.rawValue)?", $0.size.rawValue)
                }
            }
        case .countShape:
            return ShapeKind.allCases.map { shape in
                make("how many \(shape.plural) are there?",
                     CaptionGrammar.numberWord(objects.filter { $0.shape == shape }.count))
            }
        case .countObjects:
            return [make("how many objects are there?", CaptionGrammar.numberWord(objects.count))]
        case .relation:
            var found: [VisualQuestion] = []
            for a in objects {
                for b in objects where a != b {
                    guard unique({ $0.shape == a.shape && $0.color == a.color }) != nil,
                          unique({ $0.shape == b.shape && $0.color == b.color }) != nil,
                          let relation = SpatialRelation.strict(a, b) else { continue }
                    found.append(make("where is the \(a.color.rawValue) \(a.shape.rawValue) relative to the "
                                      + "\(b.color.rawValue) \(b.shape.rawValue)?", relation.rawValue))
                }
            }
            return found
        case .existence:
            var found: [VisualQuestion] = []
            for shape in ShapeKind.allCases {
                for color in ObjectColor.allCases {
                    let present = objects.contains { $0.shape == shape && $0.color == color }
                    let article = "aeiou".contains(color.rawValue.first!) ? "an" : "a"
                    found.append(make("is there \(article) \(color.rawValue) \(shape.rawValue)?", present ? "yes" : "no"))
                }
            }
            return found
        case .describe:
            return [make(describePrompt, CaptionGrammar.caption(scene))]
        }
    }

    /// One question: a kind drawn uniformly among those with an answer, then a question of it.
    /// Existence questions are drawn half "yes", half "no".
    public static func question(about scene: Scene, using rng: inout SeededRandom) -> VisualQuestion {
        let available = QuestionKind.allCases.filter { !questions(of: $0, about: scene).isEmpty }
        let kind = rng.element(of: available)
        var candidates = questions(of: kind, about: scene)
        if kind == .existence {
            let wanted = rng.bool() ? "yes" : "no"
            let balanced = candidates.filter { $0.answer == wanted }
            if !balanced.isEmpty { candidates = balanced }
        }
        return rng.element(of: candidates)
    }

    /// Up to `count` more questions about `scene`, each drawn as `question(about:using:)` draws one,
    /// none repeating another or `asked`. Description questions are left out (they are captioning;
    /// a caption mid-conversation would hand the questions after it their answers as text); when
    /// `asked` is one, the follow-ups come after its caption, as in a chat.
    public static func followUps(about scene: Scene, count: Int, asked: VisualQuestion,
                                 using rng: inout SeededRandom) -> [VisualQuestion] {
        var seen: Set<String> = [asked.question]
        var found: [VisualQuestion] = []
        // Some scenes allow few questions (one object: a handful of kinds), so draws are bounded.
        for _ in 0..<(count * 8) where found.count < count {
            let next = question(about: scene, using: &rng)
            guard next.kind != .describe, seen.insert(next.question).inserted else { continue }
            found.append(next)
        }
        return found
    }
}

/// Scores a model's answer against the expected one.
public enum AnswerScorer {
    /// Lowercased, trimmed, inner whitespace collapsed, final period dropped.
    public static func normalize(_ text: String) -> String {
        var words = text.lowercased().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        while let last = words.last, last.hasSuffix(".") {
            words[words.count - 1].removeLast()
            if words[words.count - 1].isEmpty { words.removeLast() }
        }
        return words.joined(separator: " ")
    }

    /// The same words, or two descriptions of the same scene: a caption's group order follows the
    /// order objects were placed in, which a picture does not show, so "a white square above a cyan
    /// triangle" is as right as "a cyan triangle below a white square".
    public static func isExactMatch(_ predicted: String, expected: String) -> Bool {
        if normalize(predicted) == normalize(expected) { return true }
        guard let truth = try? CaptionGrammar.parse(expected), let guess = try? CaptionGrammar.parse(predicted) else { return false }
        return guess.describesSameScene(as: truth)
    }

    /// Share of the expected answer's attributes the prediction gets right, in [0, 1]. Short answers
    /// score 0 or 1; descriptions are parsed and compared per object group (count, size, colour,
    /// shape) plus the relation, so "a small red circle" for "a large red circle" earns 3/4.
    public static func attributeScore(_ predicted: String, expected: String) -> Double {
        if isExactMatch(predicted, expected: expected) { return 1 }
        guard let truth = try? CaptionGrammar.parse(expected) else { return 0 }
        guard let guess = try? CaptionGrammar.parse(predicted) else { return 0 }
        var total = 0, right = 0
        var unused = Array(guess.groups.indices)
        for group in truth.groups {
            total += 4
            guard let position = unused.firstIndex(where: { guess.groups[$0].shape == group.shape }) else { continue }
            let match = guess.groups[unused.remove(at: position)]
            right += 1
            if match.count == group.count { right += 1 }
            if match.size == group.size { right += 1 }
            if match.color == group.color { right += 1 }
        }
        if truth.relation != nil || guess.relation != nil {
            total += 1
            if truth.relation == guess.relation { right += 1 }
        }
        // Extra groups the prediction invented cost as much as missing ones.
        total += 4 * unused.count
        return total == 0 ? 0 : Double(right) / Double(total)
    }
}
