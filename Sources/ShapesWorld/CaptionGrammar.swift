// The caption grammar, both ways:
//   caption     := phrase (relation phrase | ("," phrase)* "and" phrase)?
//   phrase      := number size? colour? shape        ("a small red circle", "two green triangles")
//   number      := "a" | "an" | "one" | "two" | "three"
//   relation    := "left of" | "right of" | "above" | "below"   ("to the" may precede left/right)
// Formatting is canonical (one spelling per spec); parsing also accepts "one", "to the left of",
// capitals and a final period, so human-written prompts work too.

public enum CaptionGrammar {
    public static let numberWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

    public static func numberWord(_ n: Int) -> String { n >= 0 && n < numberWords.count ? numberWords[n] : String(n) }

    /// "a small red circle", "an orange square", "two large blue crosses".
    public static func phrase(_ description: ObjectDescription) -> String {
        var words: [String] = []
        if let size = description.size { words.append(size.rawValue) }
        if let color = description.color { words.append(color.rawValue) }
        words.append(description.count == 1 ? description.shape.rawValue : description.shape.plural)
        let first = words[0]
        let article = description.count == 1 ? (first.first.map { "aeiou".contains($0) } == true ? "an" : "a")
            : numberWord(description.count)
        return ([article] + words).joined(separator: " ")
    }

    /// The canonical caption of a spec.
    public static func caption(_ spec: SceneSpec) -> String {
        let phrases = spec.groups.map(phrase)
        if let relation = spec.relation, phrases.count == 2 {
            return "\(phrases[0]) \(relation.rawValue) \(phrases[1])"
        }
        switch phrases.count {
        case 0: return ""
        case 1: return phrases[0]
        default: return phrases.dropLast().joined(separator: ", ") + " and " + phrases.last!
        }
    }

    /// The canonical caption of a scene.
    public static func caption(_ scene: Scene) -> String { caption(SceneSpec(describing: scene)) }

    /// The caption that reads the picture rather than the order the objects were placed in: two
    /// objects in a clear relation are named left before right or top before bottom ("X left of
    /// Y", "X above Y"), other objects top to bottom, then left to right. A picture then has one
    /// caption, where `caption(_:)` names two objects in either order ("X left of Y" or "Y right
    /// of X"), so a model must bind the order it chose to the relation's direction.
    public static func readingOrderCaption(_ scene: Scene) -> String {
        caption(Scene(objects: readingOrder(scene.objects), canvasSize: scene.canvasSize))
    }

    static func readingOrder(_ objects: [SceneObject]) -> [SceneObject] {
        if objects.count == 2, let relation = SpatialRelation.strict(objects[0], objects[1]) {
            return relation == .rightOf || relation == .below ? [objects[1], objects[0]] : objects
        }
        return objects.sorted { ($0.y, $0.x) < ($1.y, $1.x) }
    }

    /// Reads a caption back into its spec.
    public static func parse(_ text: String) throws(CaptionParseError) -> SceneSpec {
        var words: [String] = []
        for raw in text.lowercased().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            var word = String(raw)
            var trailingComma = false
            while let last = word.last, last == "," || last == "." {
                if last == "," { trailingComma = true }
                word.removeLast()
            }
            if !word.isEmpty { words.append(word) }
            if trailingComma { words.append(",") }
        }
        var position = 0
        var groups: [ObjectDescription] = []
        var relation: SpatialRelation?

        func peek() -> String? { position < words.count ? words[position] : nil }
        func parsePhrase() throws(CaptionParseError) -> ObjectDescription {
            guard let countWord = peek() else { throw .unexpectedEnd(expected: "a number or article") }
            let count: Int
            switch countWord {
            case "a", "an", "one": count = 1
            case "two": count = 2
            case "three": count = 3
            default: throw .unexpectedWord(countWord, at: position, expected: "a number or article")
            }
            position += 1
            var size: ObjectSize?, color: ObjectColor?
            if let word = peek(), let parsed = ObjectSize(rawValue: word) { size = parsed; position += 1 }
            if let word = peek(), let parsed = ObjectColor(rawValue: word) { color = parsed; position += 1 }
            guard let noun = peek() else { throw .unexpectedEnd(expected: "a shape") }
            guard let shape = ShapeKind.allCases.first(where: { $0.rawValue == noun || $0.plural == noun }) else {
                throw .unexpectedWord(noun, at: position, expected: "a shape")
            }
            position += 1
            return ObjectDescription(count: count, size: size, color: color, shape: shape)
        }
        func parseRelation() -> SpatialRelation? {
            var lookahead = position
            if lookahead + 1 < words.count, words[lookahead] == "to", words[lookahead + 1] == "the" { lookahead += 2 }
            guard lookahead < words.count else { return nil }
            switch words[lookahead] {
            case "above": position = lookahead + 1; return .above
            case "below": position = lookahead + 1; return .below
            case "left", "right":
                guard lookahead + 1 < words.count, words[lookahead + 1] == "of" else { return nil }
                position = lookahead + 2
                return words[lookahead] == "left" ? .leftOf : .rightOf
            default: return nil
            }
        }

        groups.append(try parsePhrase())
        if let parsed = parseRelation() {
            relation = parsed
            groups.append(try parsePhrase())
            guard groups[0].count == 1, groups[1].count == 1 else { throw .relationNeedsSingleObjects }
        } else {
            while let word = peek() {
                guard word == "," || word == "and" else {
                    throw .unexpectedWord(word, at: position, expected: "',', 'and' or a relation")
                }
                position += 1
                var isLast = word == "and"
                if word == ",", peek() == "and" { position += 1; isLast = true }
                groups.append(try parsePhrase())
                if isLast { break }
            }
        }
        if let word = peek() { throw .unexpectedWord(word, at: position, expected: "the end of the caption") }
        return SceneSpec(groups: groups, relation: relation)
    }
}

public enum CaptionParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case unexpectedWord(String, at: Int, expected: String)
    case unexpectedEnd(expected: String)
    case relationNeedsSingleObjects

    public var description: String {
        switch self {
        case let .unexpectedWord(word, index, expected): "caption word \(index) '\(word)': expected \(expected)"
        case let .unexpectedEnd(expected): "caption ended early: expected \(expected)"
        case .relationNeedsSingleObjects: "a relation ('above', 'left of', ...) must join two single objects"
        }
    }
}
