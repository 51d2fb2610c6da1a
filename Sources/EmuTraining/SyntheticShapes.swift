import EmuTensor

/// Seeded synthetic images of flat coloured shapes (a rectangle and a disc on a flat background),
/// [3, size, size] in [-1, 1]: a quick learning target for vision tokenizers.
public enum SyntheticShapes {
    public static func images(count: Int, size: Int, seed: UInt64) -> [Tensor] {
        var g = SeededGenerator(seed: seed)
        func unit() -> Float { Float(g.next() >> 40) / Float(1 << 24) }
        func colour() -> [Float] { (0..<3).map { _ in unit() * 2 - 1 } }
        func coordinate() -> Int { Int(g.next() % UInt64(size)) }
        return (0..<count).map { _ in
            let background = colour(), boxColour = colour(), discColour = colour()
            let (x0, y0) = (coordinate(), coordinate())
            let (x1, y1) = (min(size, x0 + 2 + coordinate() / 2), min(size, y0 + 2 + coordinate() / 2))
            let (cx, cy) = (Float(coordinate()), Float(coordinate()))
            let r = Float(size) / 8 + unit() * Float(size) / 6
            var pixels = [Float](repeating: 0, count: 3 * size * size)
            for y in 0..<size {
                for x in 0..<size {
                    var c = background
                    if x >= x0 && x < x1 && y >= y0 && y < y1 { c = boxColour }
                    let (dx, dy) = (Float(x) - cx, Float(y) - cy)
                    if dx * dx + dy * dy <= r * r { c = discColour }
                    for k in 0..<3 { pixels[(k * size + y) * size + x] = c[k] }
                }
            }
            return Tensor(pixels, shape: [3, size, size])
        }
    }
}
