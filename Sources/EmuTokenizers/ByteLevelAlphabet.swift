/// GPT-2's byte-level alphabet: each of the 256 byte values is shown as a printable character, so
/// a BPE vocabulary of strings can hold arbitrary bytes. Printable Latin-1 bytes stand for
/// themselves; the others are shifted to U+0100 and up, in byte order.
enum ByteLevelAlphabet {
    /// byte -> character
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var shifted: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + shifted)!
                shifted += 1
            }
        }
        return table
    }()

    /// character -> byte
    static let bytes: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in characters.enumerated() { map[c] = UInt8(b) }
        return map
    }()

    /// The bytes a vocabulary string stands for, or nil if it has a character outside the alphabet.
    static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for c in token.unicodeScalars {
            guard let b = bytes[c] else { return nil }
            out.append(b)
        }
        return out
    }

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var view = String.UnicodeScalarView()
        for b in bytes { view.append(characters[Int(b)]) }
        return String(view)
    }
}
