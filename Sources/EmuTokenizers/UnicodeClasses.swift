/// The character classes the pre-tokenizer patterns use: `\p{L}`, `\p{N}`, `\s`.
///
/// `\s` is the Unicode White_Space property, which is what Python `regex`, Rust `regex`
/// (tiktoken) and Oniguruma (HF `tokenizers`) all use for these patterns (checked on the corpus).
enum ScalarClass: UInt8 {
    case letter, number, whitespace, other
}

enum UnicodeClasses {
    /// Precomputed classes of ASCII, the common case.
    private static let ascii: [ScalarClass] = (0..<128).map { classifySlow(Unicode.Scalar(UInt8($0))) }

    @inline(__always)
    static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        let v = scalar.value
        if v < 128 { return ascii[Int(v)] }
        return classifySlow(scalar)
    }

    static func classifySlow(_ scalar: Unicode.Scalar) -> ScalarClass {
        if isWhitespace(scalar) { return .whitespace }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    /// Unicode White_Space (also Rust's `char::is_whitespace`, used by HF for lstrip/rstrip).
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isNewline(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value == 0x0A || scalar.value == 0x0D
    }
}
