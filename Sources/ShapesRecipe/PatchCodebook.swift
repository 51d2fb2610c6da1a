import EmuTraining
import EmuIO
import EmuTensor
import Foundation

/// The recipe's image codec: every 8x8 patch of a 64x64 image becomes the index of its nearest
/// codebook entry (k-means over rendered patches), so a picture is an 8x8 grid of codes, as with
/// Emu3's VQ at spatial stride 8. Decoding pastes the entries back.
///
/// The codec of the first bundled models (models 1 and 2 in RESULTS.md), kept as
/// `emu train --recipe shapes --codec patch` so they can be reproduced and compared; the recipe's
/// default is Emu3's convolutional VQ-VAE.
public struct PatchCodebook: Sendable {
    public static let tensorName = "patch_codebook.weight"
    public let patchSize: Int
    /// [K, patch*patch*3], pixel values in 0...1.
    public let entries: Tensor

    public init(patchSize: Int, entries: Tensor) {
        self.patchSize = patchSize
        self.entries = entries
    }

    public var size: Int { entries.shape[0] }
    var dimension: Int { patchSize * patchSize * 3 }

    /// Patches of `image` as rows [rows*columns, patch*patch*3], in raster order.
    public func patches(_ image: RGBImage) -> [Float] {
        let p = patchSize, rows = image.height / p, columns = image.width / p
        var out = [Float](repeating: 0, count: rows * columns * dimension)
        var k = 0
        for r in 0..<rows {
            for c in 0..<columns {
                for y in 0..<p {
                    let start = ((r * p + y) * image.width + c * p) * 3
                    for x in 0..<(p * 3) { out[k] = Float(image.pixels[start + x]) / 255; k += 1 }
                }
            }
        }
        return out
    }

    /// The grid of codes (rows of columns) of `image`.
    public func encode(_ image: RGBImage) -> [Int] {
        let rows = patches(image)
        return PatchCodebook.nearest(Tensor(rows, shape: [rows.count / dimension, dimension]), entries)
    }

    /// The image of a grid of codes `rows` x `columns`.
    public func decode(_ codes: [Int], rows: Int, columns: Int) -> RGBImage {
        let p = patchSize, width = columns * p
        var pixels = [UInt8](repeating: 0, count: rows * p * width * 3)
        let e = entries.toArray()
        for (index, code) in codes.prefix(rows * columns).enumerated() {
            let (r, c) = (index / columns, index % columns)
            let safe = min(max(code, 0), size - 1)
            for y in 0..<p {
                for x in 0..<(p * 3) {
                    let v = e[safe * dimension + y * p * 3 + x]
                    pixels[((r * p + y) * width + c * p) * 3 + x] = UInt8(max(0, min(255, (v * 255).rounded())))
                }
            }
        }
        return RGBImage(width: width, height: rows * p, pixels: pixels)
    }

    /// Nearest entry of each row by squared L2, with one matrix product: |x|^2 - 2 x.e + |e|^2.
    static func nearest(_ x: Tensor, _ entries: Tensor) -> [Int] {
        let n = x.shape[0], k = entries.shape[0], d = entries.shape[1]
        let dots = x.matmul(entries.transposedLastTwo()).toArray()
        let e = entries.toArray()
        var norms = [Float](repeating: 0, count: k)
        for j in 0..<k { var s: Float = 0; for t in 0..<d { s += e[j * d + t] * e[j * d + t] }; norms[j] = s }
        return (0..<n).map { i in
            var best = 0, bestValue = Float.infinity
            for j in 0..<k {
                let v = norms[j] - 2 * dots[i * k + j]
                if v < bestValue { bestValue = v; best = j }
            }
            return best
        }
    }

    /// Lloyd's k-means on `patches` (flat rows), seeded from distinct random rows; empty clusters
    /// are re-seeded from random rows. Deterministic for a seed.
    public static func train(patches: [Float], patchSize: Int, size: Int, iterations: Int, seed: UInt64,
                             log: (String) -> Void = { _ in }) -> PatchCodebook {
        let d = patchSize * patchSize * 3, n = patches.count / d
        precondition(n >= size, "k-means needs at least \(size) patches, got \(n)")
        var rng = SeededGenerator(seed: seed)
        // Seed from distinct patches where possible (most patches are plain background).
        var seen = Set<[Float]>(), picks: [Int] = []
        var order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        for i in order where picks.count < size {
            if seen.insert(Array(patches[(i * d)..<((i + 1) * d)])).inserted { picks.append(i) }
        }
        while picks.count < size { picks.append(order[picks.count % n]) }
        var centres = [Float](repeating: 0, count: size * d)
        for (j, i) in picks.enumerated() { for t in 0..<d { centres[j * d + t] = patches[i * d + t] } }
        let data = Tensor(patches, shape: [n, d])
        for iteration in 0..<iterations {
            let assignment = nearest(data, Tensor(centres, shape: [size, d]))
            var sums = [Float](repeating: 0, count: size * d), counts = [Int](repeating: 0, count: size)
            var error: Double = 0
            for (i, j) in assignment.enumerated() {
                counts[j] += 1
                for t in 0..<d {
                    let v = patches[i * d + t]
                    sums[j * d + t] += v
                    let diff = Double(v - centres[j * d + t]); error += diff * diff
                }
            }
            var reseeded = 0
            for j in 0..<size {
                if counts[j] == 0 {
                    let i = Int(rng.next() % UInt64(n))
                    for t in 0..<d { centres[j * d + t] = patches[i * d + t] }
                    reseeded += 1
                } else {
                    for t in 0..<d { centres[j * d + t] = sums[j * d + t] / Float(counts[j]) }
                }
            }
            log("k-means \(iteration + 1)/\(iterations): mean squared error \(String(format: "%.5f", error / Double(n * d))), \(reseeded) empty clusters re-seeded")
        }
        return PatchCodebook(patchSize: patchSize, entries: Tensor(centres, shape: [size, d]))
    }
}
