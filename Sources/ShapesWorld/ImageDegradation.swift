import Foundation
import EmuIO

// Degradations that stand in for VQ reconstruction when testing the reader: Gaussian blur, additive
// noise, and a box downsample followed by a bilinear upsample (what an 8x-stride codec keeps, at worst).

public enum ImageDegradation {
    /// Separable Gaussian blur (kernel radius 3 sigma, edges clamped).
    public static func gaussianBlur(_ image: RGBImage, sigma: Double) -> RGBImage {
        guard sigma > 0 else { return image }
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { d in exp(-Double(d * d) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        let w = image.width, h = image.height
        var source = image.pixels.map(Double.init)
        var target = source
        for pass in 0..<2 {
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 {
                        var sum = 0.0
                        for k in -radius...radius {
                            let sx = pass == 0 ? min(w - 1, max(0, x + k)) : x
                            let sy = pass == 1 ? min(h - 1, max(0, y + k)) : y
                            sum += kernel[k + radius] * source[(sy * w + sx) * 3 + c]
                        }
                        target[(y * w + x) * 3 + c] = sum
                    }
                }
            }
            source = target
        }
        return RGBImage(width: w, height: h, pixels: source.map(toByte))
    }

    /// Adds Gaussian noise of the given standard deviation (in 0-255 units), seeded.
    public static func addNoise(_ image: RGBImage, standardDeviation: Double, seed: UInt64) -> RGBImage {
        var rng = SeededRandom(seed: seed, stream: 5)
        let pixels = image.pixels.map { toByte(Double($0) + standardDeviation * rng.gaussian()) }
        return RGBImage(width: image.width, height: image.height, pixels: pixels)
    }

    /// Averages `factor` x `factor` blocks, then resizes back with bilinear interpolation.
    public static func boxResample(_ image: RGBImage, factor: Int) -> RGBImage {
        guard factor > 1, image.width % factor == 0, image.height % factor == 0 else { return image }
        let w = image.width, h = image.height, sw = w / factor, sh = h / factor
        var small = [Double](repeating: 0, count: sw * sh * 3)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 { small[((y / factor) * sw + x / factor) * 3 + c] += Double(image.pixels[(y * w + x) * 3 + c]) }
            }
        }
        small = small.map { $0 / Double(factor * factor) }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let fy = min(Double(sh - 1), max(0, (Double(y) + 0.5) / Double(factor) - 0.5))
            let y0 = Int(fy), y1 = min(sh - 1, y0 + 1), ty = fy - Double(y0)
            for x in 0..<w {
                let fx = min(Double(sw - 1), max(0, (Double(x) + 0.5) / Double(factor) - 0.5))
                let x0 = Int(fx), x1 = min(sw - 1, x0 + 1), tx = fx - Double(x0)
                for c in 0..<3 {
                    let top = small[(y0 * sw + x0) * 3 + c] * (1 - tx) + small[(y0 * sw + x1) * 3 + c] * tx
                    let bottom = small[(y1 * sw + x0) * 3 + c] * (1 - tx) + small[(y1 * sw + x1) * 3 + c] * tx
                    pixels[(y * w + x) * 3 + c] = toByte(top * (1 - ty) + bottom * ty)
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    private static func toByte(_ value: Double) -> UInt8 { UInt8(min(255, max(0, value.rounded()))) }
}
