import EmuIO
import Foundation

/// Bicubic resampling of 8-bit RGB images computed as Pillow's `Image.resize(..., BICUBIC)` does
/// (libImaging/Resample.c), so preprocessing matches transformers' image processors:
/// - a separable filter, horizontal pass first, each pass rounded and clipped to 8 bits;
/// - the cubic kernel with a = -0.5 and support 2, widened by the scale when downsampling
///   (antialiasing), sampled at pixel centres and normalized to sum 1;
/// - coefficients in fixed point with 22 fractional bits, accumulated in integers from half a unit.
public enum BicubicResize {
    static let precisionBits = 22

    /// `image` resized to `width` x `height`. Identity when the size does not change.
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0 && image.width > 0 && image.height > 0, "resize to \(width)x\(height)")
        var current = image
        if width != image.width {
            current = horizontalPass(current, width: width)
        }
        if height != image.height {
            current = verticalPass(current, height: height)
        }
        return current
    }

    /// The cubic convolution kernel with a = -0.5 (Keys), as Pillow defines it.
    static func cubic(_ value: Double) -> Double {
        let a = -0.5
        let x = abs(value)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// For each output index, the first input index and the fixed-point weights of the input
    /// pixels it reads (Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc`).
    static func coefficients(inputSize: Int, outputSize: Int) -> [(first: Int, weights: [Int32])] {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        let inverse = 1 / filterScale
        let unit = Double(1 << precisionBits)
        return (0..<outputSize).map { xx in
            let center = (Double(xx) + 0.5) * scale
            // C casts truncate towards zero.
            let first = max(Int(center - support + 0.5), 0)
            let last = min(Int(center + support + 0.5), inputSize)
            var weights = (first..<max(last, first)).map { cubic((Double($0) - center + 0.5) * inverse) }
            let total = weights.reduce(0, +)
            if total != 0 { weights = weights.map { $0 / total } }
            let fixed = weights.map { w in Int32(w < 0 ? (-0.5 + w * unit) : (0.5 + w * unit)) }
            return (first, fixed)
        }
    }

    @inline(__always) static func clip8(_ sum: Int32) -> UInt8 {
        let v = sum >> Int32(precisionBits)  // arithmetic shift: floor
        return UInt8(clamping: v)
    }

    static func horizontalPass(_ image: RGBImage, width: Int) -> RGBImage {
        let coeffs = coefficients(inputSize: image.width, outputSize: width)
        var out = [UInt8](repeating: 0, count: width * image.height * 3)
        let half = Int32(1 << (precisionBits - 1))
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let row = y * image.width * 3
                    for (x, c) in coeffs.enumerated() {
                        var s0 = half, s1 = half, s2 = half
                        for (k, w) in c.weights.enumerated() {
                            let p = row + (c.first + k) * 3
                            s0 &+= Int32(src[p]) &* w
                            s1 &+= Int32(src[p + 1]) &* w
                            s2 &+= Int32(src[p + 2]) &* w
                        }
                        let o = (y * width + x) * 3
                        dst[o] = clip8(s0); dst[o + 1] = clip8(s1); dst[o + 2] = clip8(s2)
                    }
                }
            }
        }
        return RGBImage(width: width, height: image.height, pixels: out)
    }

    static func verticalPass(_ image: RGBImage, height: Int) -> RGBImage {
        let coeffs = coefficients(inputSize: image.height, outputSize: height)
        let rowBytes = image.width * 3
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        let half = Int32(1 << (precisionBits - 1))
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (y, c) in coeffs.enumerated() {
                    for i in 0..<rowBytes {
                        var s = half
                        for (k, w) in c.weights.enumerated() {
                            s &+= Int32(src[(c.first + k) * rowBytes + i]) &* w
                        }
                        dst[y * rowBytes + i] = clip8(s)
                    }
                }
            }
        }
        return RGBImage(width: image.width, height: height, pixels: out)
    }
}
