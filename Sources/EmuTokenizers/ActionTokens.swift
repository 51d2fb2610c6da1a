// The action vocabulary: discrete gripper actions as added tokens, between begin/end-of-action
// markers (Emu3's VLA recipe puts actions in the vocabulary so the same next-token loss and the same
// constrained decoder serve them). A checkpoint adds `ActionVocabulary.addedTokens` as added tokens;
// ids are never hard-coded: `ActionTokenIDs` looks them up in the checkpoint's vocabulary.

/// One discrete action of ShapesWorld's gripper. Raw values are the token names' stems.
public enum DiscreteAction: String, CaseIterable, Sendable, Hashable, Codable {
    case up, down, left, right, grasp, release, stop
}

/// Token strings for actions and the markers around an action span.
public enum ActionVocabulary {
    public static let beginOfAction = "<|begin_of_action|>"
    public static let endOfAction = "<|end_of_action|>"

    /// The token string of one action, e.g. `<|action_up|>`.
    public static func token(for action: DiscreteAction) -> String {
        "<|action_\(action.rawValue)|>"
    }

    /// The action a token string names, or nil when it is not an action token.
    public static func action(forToken token: String) -> DiscreteAction? {
        actionByToken[token]
    }

    /// Every token to add to a checkpoint's vocabulary, markers first, in a fixed order.
    public static let addedTokens: [String] = [beginOfAction, endOfAction] + DiscreteAction.allCases.map(token(for:))

    /// An action span as token strings: begin marker, one token per action, end marker.
    public static func tokens(for actions: [DiscreteAction]) -> [String] {
        [beginOfAction] + actions.map(token(for:)) + [endOfAction]
    }

    /// Reads an action span back: `tokens` must be begin marker, action tokens, end marker.
    public static func actions(fromTokens tokens: [String]) throws(ActionTokenError) -> [DiscreteAction] {
        guard tokens.first == beginOfAction else { throw .missingMarker(beginOfAction, offset: 0) }
        guard tokens.count >= 2, tokens.last == endOfAction else {
            throw .missingMarker(endOfAction, offset: tokens.count)
        }
        var actions: [DiscreteAction] = []
        for (offset, token) in tokens.enumerated().dropFirst().dropLast() {
            guard let action = action(forToken: token) else { throw .notAnAction(token, offset: offset) }
            actions.append(action)
        }
        return actions
    }

    private static let actionByToken: [String: DiscreteAction] =
        Dictionary(uniqueKeysWithValues: DiscreteAction.allCases.map { (token(for: $0), $0) })
}

/// What went wrong reading or resolving action tokens.
public enum ActionTokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingMarker(String, offset: Int)
    case notAnAction(String, offset: Int)
    case notInVocabulary(String)
    case unknownID(Int)

    public var description: String {
        switch self {
        case let .missingMarker(marker, offset): "expected \(marker) at token offset \(offset)"
        case let .notAnAction(token, offset): "token \(token) at offset \(offset) is not an action token"
        case let .notInVocabulary(token): "the vocabulary has no token \(token); add ActionVocabulary.addedTokens"
        case let .unknownID(id): "token id \(id) is not an action token"
        }
    }
}

/// The action tokens' ids in one checkpoint's vocabulary, for encoding and for restricting decoding
/// to action ids.
public struct ActionTokenIDs: Sendable, Equatable {
    public let beginOfAction: Int
    public let endOfAction: Int
    /// Id of each action, in `DiscreteAction.allCases` order.
    public let actionIDs: [DiscreteAction: Int]

    /// Resolves every action token through `lookup` (token string -> id); throws naming the first missing one.
    public init(lookup: (String) -> Int?) throws(ActionTokenError) {
        func id(_ token: String) throws(ActionTokenError) -> Int {
            guard let id = lookup(token) else { throw .notInVocabulary(token) }
            return id
        }
        beginOfAction = try id(ActionVocabulary.beginOfAction)
        endOfAction = try id(ActionVocabulary.endOfAction)
        var ids: [DiscreteAction: Int] = [:]
        for action in DiscreteAction.allCases { ids[action] = try id(ActionVocabulary.token(for: action)) }
        actionIDs = ids
    }

    /// Ids a decoder may emit inside an action span (the actions and the end marker).
    public var allowedInsideSpan: [Int] {
        DiscreteAction.allCases.compactMap { actionIDs[$0] } + [endOfAction]
    }

    public func id(for action: DiscreteAction) -> Int { actionIDs[action]! }

    public func action(forID id: Int) throws(ActionTokenError) -> DiscreteAction {
        guard let action = actionIDs.first(where: { $0.value == id })?.key else { throw .unknownID(id) }
        return action
    }

    /// An action span as ids: begin marker, actions, end marker.
    public func ids(for actions: [DiscreteAction]) -> [Int] {
        [beginOfAction] + actions.map(id(for:)) + [endOfAction]
    }
}
