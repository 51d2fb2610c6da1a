import Foundation

/// Everything that can go wrong when loading or using a text tokenizer. Each case names the file,
/// field, line or id at fault so a user can fix the input.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The JSON is not valid, or a field has the wrong shape (e.g. `model.vocab` is not an object).
    case malformedJSON(source: String, field: String, reason: String)
    /// A required field is absent (e.g. `model.vocab`).
    case missingField(source: String, field: String)
    /// A component type or option we do not implement (e.g. `model.type` "WordPiece").
    case unsupported(source: String, field: String, value: String)
    /// A merge names a token that is not in the vocabulary, or produces one that is not.
    case invalidMerge(source: String, index: Int, merge: String)
    /// A line of a tiktoken rank file or a vision-token file that cannot be parsed.
    case malformedLine(path: String, line: Int, reason: String)
    /// Two entries claim the same id, or ids are not dense where they must be.
    case inconsistentIDs(source: String, reason: String)
    /// `decode` was given an id the vocabulary does not have.
    case unknownTokenID(Int)
    /// A token the caller requires (by name) is not in the vocabulary.
    case missingToken(name: String, role: String)
    /// A visual token's name does not carry a 6-digit code, or codes are not 0..<n.
    case malformedVisualToken(name: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): "cannot read \(path): \(reason)"
        case let .malformedJSON(source, field, reason): "\(source): field `\(field)`: \(reason)"
        case let .missingField(source, field): "\(source): required field `\(field)` is missing"
        case let .unsupported(source, field, value): "\(source): `\(field)` = \(value) is not supported"
        case let .invalidMerge(source, index, merge): "\(source): merge #\(index) `\(merge)` uses or produces a token missing from the vocabulary"
        case let .malformedLine(path, line, reason): "\(path):\(line): \(reason)"
        case let .inconsistentIDs(source, reason): "\(source): \(reason)"
        case let .unknownTokenID(id): "token id \(id) is not in the vocabulary"
        case let .missingToken(name, role): "the vocabulary has no \(role) token `\(name)`"
        case let .malformedVisualToken(name, reason): "visual token `\(name)`: \(reason)"
        }
    }
}
