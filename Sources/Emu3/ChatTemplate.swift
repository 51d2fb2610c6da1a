import Foundation

/// A checkpoint's chat template (Jinja) rendered as transformers' `apply_chat_template` renders it,
/// for the small Jinja subset that chat templates like Emu3's use:
///
/// - `{{ expr }}`, `{% if %}/{% elif %}/{% else %}/{% endif %}`, `{% for x in expr %}…{% endfor %}`
///   (with `loop.index0`, `loop.index`, `loop.first`, `loop.last`), `{% set x = expr %}`, `{# … #}`,
///   `{% generation %}` blocks (rendered as their body), whitespace control with `-`.
/// - expressions: `a if c else b`, string, integer and boolean literals, names, `a.b`, `a['b']`, `+`, `~`, `==`, `!=`,
///   `in`, `not in`, `and`, `or`, `not`, `is defined`, `is not none` style tests, parentheses,
///   the methods `upper()`, `lower()`, `strip()`, and the filters `selectattr(attr, 'equalto', v)`,
///   `length`, `trim`, `upper`, `lower`.
///
/// Anything else is a `ChatTemplateError` naming the construct, never a wrong prompt.
public struct ChatTemplate: Sendable {
    public let source: String
    private let nodes: [Node]

    public init(_ source: String) throws {
        self.source = source
        var parser = TemplateParser(tokens: try TemplateLexer.tokens(source))
        nodes = try parser.parseBlock(until: [])
    }

    /// A conversation message: a role and content parts (text or image).
    public struct Message: Sendable, Equatable {
        public enum Part: Sendable, Equatable { case text(String), image }
        public var role: String
        public var content: [Part]
        public init(role: String, content: [Part]) {
            self.role = role
            self.content = content
        }
    }

    /// The prompt text for `messages`, with the assistant cue when `addGenerationPrompt`.
    public func render(_ messages: [Message], addGenerationPrompt: Bool = true,
                       extra: [String: JinjaValue] = [:]) throws -> String {
        let list = messages.map { message -> JinjaValue in
            let parts = message.content.map { part -> JinjaValue in
                switch part {
                case .text(let text): return .object(["type": .string("text"), "text": .string(text)])
                case .image: return .object(["type": .string("image")])
                }
            }
            return .object(["role": .string(message.role), "content": .array(parts)])
        }
        var scope = extra
        scope["messages"] = .array(list)
        scope["add_generation_prompt"] = .bool(addGenerationPrompt)
        var output = ""
        var interpreter = TemplateInterpreter(scopes: [scope])
        try interpreter.run(nodes, into: &output)
        return output
    }
}

/// A value inside a template.
public enum JinjaValue: Sendable, Equatable {
    case undefined, none
    case bool(Bool), int(Int), string(String)
    case array([JinjaValue]), object([String: JinjaValue])

    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        }
    }

    var text: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.text).joined(separator: ", ") + "]"
        case .object: return "{…}"
        }
    }
}

public enum ChatTemplateError: Error, Equatable, CustomStringConvertible {
    case syntax(String)
    case unsupported(String)
    case runtime(String)

    public var description: String {
        switch self {
        case .syntax(let m): return "chat template syntax error: \(m)"
        case .unsupported(let m): return "chat template uses unsupported Jinja: \(m)"
        case .runtime(let m): return "chat template error: \(m)"
        }
    }
}

// MARK: - Lexing

private enum TemplateToken: Equatable {
    case text(String)
    case output(String)     // {{ … }}
    case statement(String)  // {% … %}
}

private enum TemplateLexer {
    static func tokens(_ source: String) throws -> [TemplateToken] {
        let chars = Array(source)
        var tokens: [TemplateToken] = []
        var text = ""
        var trimNextText = false
        var i = 0
        while i < chars.count {
            guard chars[i] == "{", i + 1 < chars.count, "{%#".contains(chars[i + 1]) else {
                text.append(chars[i])
                i += 1
                continue
            }
            let kind = chars[i + 1]
            var start = i + 2
            let trimBefore = start < chars.count && chars[start] == "-"
            if trimBefore { start += 1 }
            appendText(text, trimLeading: trimNextText, trimTrailing: trimBefore, to: &tokens)
            text = ""
            let closer: [Character] = kind == "{" ? ["}", "}"] : kind == "%" ? ["%", "}"] : ["#", "}"]
            var end = start
            while end + 1 < chars.count, !(chars[end] == closer[0] && chars[end + 1] == closer[1]) { end += 1 }
            guard end + 1 < chars.count else { throw ChatTemplateError.syntax("unclosed '{\(kind)'") }
            var bodyEnd = end
            trimNextText = bodyEnd > start && chars[bodyEnd - 1] == "-"
            if trimNextText { bodyEnd -= 1 }
            let content = String(chars[start..<bodyEnd]).trimmingCharacters(in: .whitespacesAndNewlines)
            switch kind {
            case "{": tokens.append(.output(content))
            case "%": tokens.append(.statement(content))
            default: trimNextText = false  // comment
            }
            i = end + 2
        }
        appendText(text, trimLeading: trimNextText, trimTrailing: false, to: &tokens)
        return tokens
    }

    private static func appendText(_ text: String, trimLeading: Bool, trimTrailing: Bool, to tokens: inout [TemplateToken]) {
        var t = Substring(text)
        if trimLeading { t = t.drop(while: \.isWhitespace) }
        if trimTrailing { while let last = t.last, last.isWhitespace { t = t.dropLast() } }
        if !t.isEmpty { tokens.append(.text(String(t))) }
    }
}

// MARK: - Tree

private indirect enum Node: Sendable {
    case text(String)
    case output(Expression)
    case conditional([(Expression, [Node])], otherwise: [Node])
    case loop(variable: String, sequence: Expression, body: [Node])
    case assignment(String, Expression)
}

private indirect enum Expression: Sendable {
    case literal(JinjaValue)
    case name(String)
    case member(Expression, String)
    case index(Expression, Expression)
    case call(Expression, method: String, arguments: [Expression])
    case filter(Expression, name: String, arguments: [Expression])
    case test(Expression, name: String, negated: Bool)
    case unary(String, Expression)
    case binary(String, Expression, Expression)
    case conditional(Expression, then: Expression, otherwise: Expression)
}

private struct TemplateParser {
    let tokens: [TemplateToken]
    var position = 0

    init(tokens: [TemplateToken]) { self.tokens = tokens }

    /// Nodes up to a statement whose first word is in `terminators` (left unconsumed).
    mutating func parseBlock(until terminators: Set<String>) throws -> [Node] {
        var nodes: [Node] = []
        while position < tokens.count {
            switch tokens[position] {
            case .text(let t):
                nodes.append(.text(t))
                position += 1
            case .output(let source):
                nodes.append(.output(try ExpressionParser.parse(source)))
                position += 1
            case .statement(let source):
                let word = String(source.prefix { !$0.isWhitespace })
                if terminators.contains(word) { return nodes }
                position += 1
                nodes += try parseStatement(word: word, rest: String(source.dropFirst(word.count)))
            }
        }
        guard terminators.isEmpty else { throw ChatTemplateError.syntax("missing {% \(terminators.sorted().joined(separator: " or ")) %}") }
        return nodes
    }

    private mutating func expectStatement(_ words: Set<String>) throws -> (word: String, rest: String) {
        guard position < tokens.count, case .statement(let source) = tokens[position] else {
            throw ChatTemplateError.syntax("expected {% \(words.sorted().joined(separator: "/")) %}")
        }
        position += 1
        let word = String(source.prefix { !$0.isWhitespace })
        return (word, String(source.dropFirst(word.count)))
    }

    private mutating func parseStatement(word: String, rest: String) throws -> [Node] {
        switch word {
        case "if":
            var branches: [(Expression, [Node])] = []
            var condition = try ExpressionParser.parse(rest)
            while true {
                let body = try parseBlock(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                let (next, tail) = try expectStatement(["elif", "else", "endif"])
                if next == "elif" { condition = try ExpressionParser.parse(tail); continue }
                if next == "else" {
                    let otherwise = try parseBlock(until: ["endif"])
                    _ = try expectStatement(["endif"])
                    return [.conditional(branches, otherwise: otherwise)]
                }
                return [.conditional(branches, otherwise: [])]
            }
        case "for":
            let parts = rest.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard parts.count == 3, parts[1] == "in" else { throw ChatTemplateError.unsupported("{% for\(rest) %}") }
            let body = try parseBlock(until: ["endfor", "else"])
            if try expectStatement(["endfor", "else"]).word == "else" { throw ChatTemplateError.unsupported("{% for %}…{% else %}") }
            return [.loop(variable: String(parts[0]), sequence: try ExpressionParser.parse(String(parts[2])), body: body)]
        case "set":
            guard let equals = rest.firstIndex(of: "=") else { throw ChatTemplateError.unsupported("{% set\(rest) %}") }
            let name = rest[..<equals].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ChatTemplateError.unsupported("{% set\(rest) %}")
            }
            return [.assignment(name, try ExpressionParser.parse(String(rest[rest.index(after: equals)...])))]
        case "generation":
            // transformers marks assistant text for masks; it renders as its body.
            let body = try parseBlock(until: ["endgeneration"])
            _ = try expectStatement(["endgeneration"])
            return body
        default:
            throw ChatTemplateError.unsupported("{% \(word) %}")
        }
    }
}

// MARK: - Expressions

private struct ExpressionParser {
    enum Piece: Equatable { case string(String), number(Int), word(String), symbol(String) }
    var pieces: [Piece]
    var index = 0

    static func parse(_ source: String) throws -> Expression {
        var parser = ExpressionParser(pieces: try lex(source))
        let expression = try parser.parseConditional()
        guard parser.index == parser.pieces.count else { throw ChatTemplateError.syntax("unexpected text in '\(source)'") }
        return expression
    }

    static func lex(_ source: String) throws -> [Piece] {
        var pieces: [Piece] = []
        let chars = Array(source)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c == "'" || c == "\"" {
                var value = ""
                i += 1
                while i < chars.count, chars[i] != c {
                    if chars[i] == "\\", i + 1 < chars.count {
                        i += 1
                        switch chars[i] { case "n": value.append("\n"); case "t": value.append("\t"); default: value.append(chars[i]) }
                    } else {
                        value.append(chars[i])
                    }
                    i += 1
                }
                guard i < chars.count else { throw ChatTemplateError.syntax("unterminated string in '\(source)'") }
                i += 1
                pieces.append(.string(value))
            } else if c.isNumber {
                var j = i
                while j < chars.count, chars[j].isNumber { j += 1 }
                pieces.append(.number(Int(String(chars[i..<j]))!))
                i = j
            } else if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                pieces.append(.word(String(chars[i..<j])))
                i = j
            } else {
                let two = i + 1 < chars.count ? String(chars[i...(i + 1)]) : ""
                if ["==", "!="].contains(two) {
                    pieces.append(.symbol(two)); i += 2
                } else if "()[].,|+~".contains(c) {
                    pieces.append(.symbol(String(c))); i += 1
                } else {
                    throw ChatTemplateError.unsupported("operator '\(c)' in '\(source)'")
                }
            }
        }
        return pieces
    }

    private var current: Piece? { index < pieces.count ? pieces[index] : nil }

    private mutating func take(_ piece: Piece) -> Bool {
        guard current == piece else { return false }
        index += 1
        return true
    }

    private mutating func expect(_ piece: Piece) throws {
        guard take(piece) else { throw ChatTemplateError.syntax("expected \(piece)") }
    }

    /// `a if condition else b` (the else part is optional: undefined).
    mutating func parseConditional() throws -> Expression {
        let value = try parseOr()
        guard take(.word("if")) else { return value }
        let condition = try parseOr()
        let otherwise = take(.word("else")) ? try parseConditional() : .literal(.undefined)
        return .conditional(condition, then: value, otherwise: otherwise)
    }

    mutating func parseOr() throws -> Expression {
        var left = try parseAnd()
        while take(.word("or")) { left = .binary("or", left, try parseAnd()) }
        return left
    }

    mutating func parseAnd() throws -> Expression {
        var left = try parseNot()
        while take(.word("and")) { left = .binary("and", left, try parseNot()) }
        return left
    }

    mutating func parseNot() throws -> Expression {
        if take(.word("not")) { return .unary("not", try parseNot()) }
        return try parseComparison()
    }

    mutating func parseComparison() throws -> Expression {
        var left = try parseConcatenation()
        while true {
            if take(.symbol("==")) { left = .binary("==", left, try parseConcatenation()) }
            else if take(.symbol("!=")) { left = .binary("!=", left, try parseConcatenation()) }
            else if take(.word("in")) { left = .binary("in", left, try parseConcatenation()) }
            else if current == .word("not"), index + 1 < pieces.count, pieces[index + 1] == .word("in") {
                index += 2
                left = .unary("not", .binary("in", left, try parseConcatenation()))
            } else if take(.word("is")) {
                let negated = take(.word("not"))
                guard case .word(let name)? = current else { throw ChatTemplateError.syntax("expected a test after 'is'") }
                index += 1
                left = .test(left, name: name, negated: negated)
            } else {
                return left
            }
        }
    }

    mutating func parseConcatenation() throws -> Expression {
        var left = try parseFiltered()
        while true {
            if take(.symbol("+")) { left = .binary("+", left, try parseFiltered()) }
            else if take(.symbol("~")) { left = .binary("~", left, try parseFiltered()) }
            else { return left }
        }
    }

    mutating func parseFiltered() throws -> Expression {
        var value = try parsePostfix()
        while take(.symbol("|")) {
            guard case .word(let name)? = current else { throw ChatTemplateError.syntax("expected a filter name") }
            index += 1
            value = .filter(value, name: name, arguments: current == .symbol("(") ? try parseArguments() : [])
        }
        return value
    }

    mutating func parseArguments() throws -> [Expression] {
        try expect(.symbol("("))
        var arguments: [Expression] = []
        if take(.symbol(")")) { return arguments }
        repeat { arguments.append(try parseConditional()) } while take(.symbol(","))
        try expect(.symbol(")"))
        return arguments
    }

    mutating func parsePostfix() throws -> Expression {
        var value = try parsePrimary()
        while true {
            if take(.symbol(".")) {
                guard case .word(let name)? = current else { throw ChatTemplateError.syntax("expected a name after '.'") }
                index += 1
                if current == .symbol("(") {
                    value = .call(value, method: name, arguments: try parseArguments())
                } else {
                    value = .member(value, name)
                }
            } else if take(.symbol("[")) {
                value = .index(value, try parseOr())
                try expect(.symbol("]"))
            } else {
                return value
            }
        }
    }

    mutating func parsePrimary() throws -> Expression {
        guard let piece = current else { throw ChatTemplateError.syntax("expression ends too early") }
        index += 1
        switch piece {
        case .string(let s): return .literal(.string(s))
        case .number(let n): return .literal(.int(n))
        case .word("true"), .word("True"): return .literal(.bool(true))
        case .word("false"), .word("False"): return .literal(.bool(false))
        case .word("none"), .word("None"): return .literal(.none)
        case .word(let name): return .name(name)
        case .symbol("("):
            let inner = try parseConditional()
            try expect(.symbol(")"))
            return inner
        case .symbol(let s): throw ChatTemplateError.syntax("unexpected '\(s)'")
        }
    }
}

// MARK: - Evaluation

private struct TemplateInterpreter {
    var scopes: [[String: JinjaValue]]

    mutating func run(_ nodes: [Node], into output: inout String) throws {
        for node in nodes {
            switch node {
            case .text(let t): output += t
            case .output(let e): output += try evaluate(e).text
            case .conditional(let branches, let otherwise):
                var taken = false
                for (condition, body) in branches where try evaluate(condition).truthy {
                    try run(body, into: &output)
                    taken = true
                    break
                }
                if !taken { try run(otherwise, into: &output) }
            case .loop(let variable, let sequence, let body):
                guard case .array(let items) = try evaluate(sequence) else {
                    throw ChatTemplateError.runtime("for loop over a value that is not a list")
                }
                for (i, item) in items.enumerated() {
                    let loop: JinjaValue = .object(["index0": .int(i), "index": .int(i + 1), "first": .bool(i == 0),
                                                    "last": .bool(i == items.count - 1), "length": .int(items.count)])
                    scopes.append([variable: item, "loop": loop])
                    defer { scopes.removeLast() }
                    try run(body, into: &output)
                }
            case .assignment(let name, let e):
                scopes[scopes.count - 1][name] = try evaluate(e)
            }
        }
    }

    func lookup(_ name: String) -> JinjaValue {
        for scope in scopes.reversed() { if let v = scope[name] { return v } }
        return .undefined
    }

    func evaluate(_ expression: Expression) throws -> JinjaValue {
        switch expression {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .member(let base, let name):
            if case .object(let o) = try evaluate(base) { return o[name] ?? .undefined }
            return .undefined
        case .index(let base, let key):
            switch (try evaluate(base), try evaluate(key)) {
            case (.object(let o), .string(let k)): return o[k] ?? .undefined
            case (.array(let a), .int(let i)):
                let j = i < 0 ? a.count + i : i
                return a.indices.contains(j) ? a[j] : .undefined
            default: return .undefined
            }
        case .call(let base, let method, let arguments):
            guard arguments.isEmpty, case .string(let s) = try evaluate(base) else {
                throw ChatTemplateError.unsupported("method call .\(method)(…)")
            }
            switch method {
            case "upper": return .string(s.uppercased())
            case "lower": return .string(s.lowercased())
            case "strip": return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
            default: throw ChatTemplateError.unsupported("method .\(method)()")
            }
        case .filter(let base, let name, let arguments):
            let value = try evaluate(base)
            let args = try arguments.map(evaluate)
            switch (name, value) {
            case ("selectattr", .array(let items)):
                guard args.count == 3, case .string(let attribute) = args[0], args[1] == .string("equalto") else {
                    throw ChatTemplateError.unsupported("selectattr with arguments \(args.map(\.text))")
                }
                return .array(items.filter { item in
                    if case .object(let o) = item { return o[attribute] == args[2] }
                    return false
                })
            case ("length", .array(let a)): return .int(a.count)
            case ("length", .string(let s)): return .int(s.count)
            case ("trim", .string(let s)): return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
            case ("upper", .string(let s)): return .string(s.uppercased())
            case ("lower", .string(let s)): return .string(s.lowercased())
            default: throw ChatTemplateError.unsupported("filter '\(name)'")
            }
        case .test(let base, let name, let negated):
            let value = try evaluate(base)
            let result: Bool
            switch name {
            case "defined": result = value != .undefined
            case "undefined": result = value == .undefined
            case "none": result = value == .none
            case "string": if case .string = value { result = true } else { result = false }
            default: throw ChatTemplateError.unsupported("test 'is \(name)'")
            }
            return .bool(result != negated)
        case .conditional(let condition, let then, let otherwise):
            return try evaluate(condition).truthy ? try evaluate(then) : try evaluate(otherwise)
        case .unary(_, let operand):
            return .bool(!(try evaluate(operand).truthy))
        case .binary(let op, let l, let r):
            switch op {
            case "and": let a = try evaluate(l); return a.truthy ? try evaluate(r) : a
            case "or": let a = try evaluate(l); return a.truthy ? a : try evaluate(r)
            default: break
            }
            let (a, b) = (try evaluate(l), try evaluate(r))
            switch op {
            case "==": return .bool(a == b)
            case "!=": return .bool(a != b)
            case "~": return .string(a.text + b.text)
            case "+":
                switch (a, b) {
                case (.int(let x), .int(let y)): return .int(x + y)
                case (.string(let x), .string(let y)): return .string(x + y)
                case (.array(let x), .array(let y)): return .array(x + y)
                default: throw ChatTemplateError.runtime("cannot add \(a.text) and \(b.text)")
                }
            case "in":
                switch b {
                case .string(let s): if case .string(let needle) = a { return .bool(s.contains(needle)) }
                case .array(let items): return .bool(items.contains(a))
                case .object(let o): if case .string(let key) = a { return .bool(o[key] != nil) }
                default: break
                }
                return .bool(false)
            default: throw ChatTemplateError.unsupported("operator \(op)")
            }
        }
    }
}
